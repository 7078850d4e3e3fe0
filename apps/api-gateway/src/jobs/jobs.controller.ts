import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { isTerminal, type JobStatus } from '@ct/job-domain';
import { listJobsQuery, submitJobBody, type ListJobsQuery, type SubmitJobBody } from '@ct/contracts';
import { JobRepository, type Principal } from '@ct/persistence';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { JobEventsHub } from '../events/job-events.hub';
import { eventView, logView } from './job.view';
import { JobsService } from './jobs.service';
import { openSse } from './sse';
import { Shutdown } from '../common/shutdown';

/** A log line id: a positive 64-bit integer (Postgres bigint), never a huge number or text. */
const logId = z.string().regex(/^\d{1,19}$/, 'a log line id (digits)').refine((v) => BigInt(v) <= 9_223_372_036_854_775_807n, 'larger than any log line id');
const logsQuery = z
  .object({ follow: z.enum(['true', 'false', '1', '0']).optional(), after: logId.optional(), limit: z.coerce.number().int().min(1).max(5000).default(1000) })
  .strict();
const lastEventId = new ZodPipe(logId.optional(), 'Last-Event-ID header', { header: true });
/** Idempotency keys are the caller's own tokens: printable ASCII, at most 200 characters. */
const idempotencyKey = new ZodPipe(z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').optional(), 'Idempotency-Key header', { header: true });
const deleteQuery = z.object({ keep_outputs: z.enum(['true', 'false', '1', '0']).optional() }).strict();
const idParam = new ZodPipe(z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, 'not a job id'), 'job id');

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/cloud/jobs')
export class JobsController {
  constructor(private readonly service: JobsService, private readonly jobs: JobRepository, private readonly hub: JobEventsHub, private readonly shutdown: Shutdown) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Submit a training job; answers 202 at once, follow it by GET or SSE' })
  async submit(
    @CurrentPrincipal() p: Principal,
    @Body(new ZodPipe(submitJobBody, 'job submission')) body: SubmitJobBody,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { job, created } = await this.service.submit(p, body, undefined, idempotencyKey.transform(rawKey));
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return job;
  }

  @Post('submit')
  @HttpCode(202)
  @ApiOperation({ summary: "SimpleTuner's submit path: provider in the query" })
  async submitCompat(
    @CurrentPrincipal() p: Principal,
    @Body(new ZodPipe(submitJobBody, 'job submission')) body: SubmitJobBody,
    @Query('provider') provider: string | undefined,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { job, created } = await this.service.submit(p, body, provider, idempotencyKey.transform(rawKey));
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return { success: true, job_id: job.id, status: job.status, idempotent_hit: !created, job };
  }

  @Get()
  list(@CurrentPrincipal() p: Principal, @Query(new ZodPipe(listJobsQuery, 'query')) q: ListJobsQuery) {
    return this.service.list(p, q);
  }

  @Get(':id')
  get(@CurrentPrincipal() p: Principal, @Param('id', idParam) id: string) {
    return this.service.get(p, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@CurrentPrincipal() p: Principal, @Param('id', idParam) id: string) {
    return this.service.cancel(p, id);
  }

  /** Deletes a terminal job and its package and outputs in storage (`?keep_outputs=true` keeps the outputs). */
  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() p: Principal, @Param('id', idParam) id: string, @Query(new ZodPipe(deleteQuery, 'query')) q: z.infer<typeof deleteQuery>): Promise<void> {
    await this.service.delete(p, id, q.keep_outputs === 'true' || q.keep_outputs === '1');
  }

  @Get(':id/events')
  async events(@CurrentPrincipal() p: Principal, @Param('id', idParam) id: string) {
    await this.jobs.get(p.orgId, id);
    return { events: (await this.jobs.events(p.orgId, id)).map(eventView) };
  }

  /** Logs; `?follow=true` (or `Accept: text/event-stream`) streams new lines over SSE until the job ends. */
  @Get(':id/logs')
  async logs(
    @CurrentPrincipal() p: Principal,
    @Param('id', idParam) id: string,
    @Query(new ZodPipe(logsQuery, 'query')) q: z.infer<typeof logsQuery>,
    @Headers('last-event-id') resumeFrom: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.jobs.get(p.orgId, id);
    const follow = q.follow === 'true' || q.follow === '1' || (req.headers.accept ?? '').includes('text/event-stream');
    let after = BigInt(q.after ?? lastEventId.transform(resumeFrom) ?? '0');
    if (!follow) {
      const lines = await this.jobs.logs(p.orgId, id, after, q.limit);
      res.json({ logs: lines.map(logView), next_after: lines.at(-1)?.id.toString() ?? after.toString() });
      return;
    }
    const sse = openSse(res, this.shutdown.signal);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const stop = AbortSignal.any([abort.signal, this.shutdown.signal]);
    while (!sse.closed()) {
      const lines = await this.jobs.logs(p.orgId, id, after, 500);
      for (const l of lines) sse.send('log', logView(l), l.id.toString());
      after = lines.at(-1)?.id ?? after;
      if (lines.length === 500) continue;
      const job = await this.jobs.find(p.orgId, id);
      if (!job || isTerminal(job.status as JobStatus)) {
        // One more read: lines written just before the terminal change must not be lost.
        for (const l of await this.jobs.logs(p.orgId, id, after, 5000)) sse.send('log', logView(l), l.id.toString());
        sse.send('end', { status: job?.status ?? 'deleted' });
        break;
      }
      await this.hub.waitFor({ jobId: id }, 1_000, stop);
    }
    sse.close();
  }
}

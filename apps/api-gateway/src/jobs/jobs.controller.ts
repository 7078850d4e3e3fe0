import { Controller, Delete, Get, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { isTerminal, type JobStatus } from '@ct/job-domain';
import {
  deleteJobQuerySchema, idempotencyKeyHeaderSchema, jobDetailSchema, jobEventListSchema, jobIdSchema, jobListSchema, jobLogPageSchema,
  jobLogsQuerySchema, jobLogStreamEventSchema, jobSchema, jobWithConfigSchema, lastEventIdHeaderSchema, listJobsQuerySchema,
  submitCompatQuerySchema, submitCompatResponseSchema, submitJobBodySchema,
  type DeleteJobQuery, type JobLogPage, type JobLogStreamEvent, type JobLogsQuery, type ListJobsQuery, type SubmitCompatQuery, type SubmitJobBody,
} from '@ct/contracts';
import { JobRepository, type Principal } from '@ct/persistence';
import type { Request, Response } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { Shutdown } from '../common/shutdown';
import { JobEventsHub } from '../events/job-events.hub';
import { ApiAnswers, ApiEmpty, ApiJson, ApiProblems, ZodBody, ZodHeader, ZodParam, ZodQuery } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { eventView, logView } from './job.view';
import { JobsService } from './jobs.service';
import { openSse } from './sse';

const SUBMIT_PROBLEMS = ['provider_unknown', 'provider_unavailable', 'provider_not_configured', 'consent_denied', 'cost_limit_exceeded', 'dataset_path_outside_roots', 'dataset_path_missing', 'dataset_path_unreadable', 'dataset_symlink_escape', 'dataset_path_invalid'] as const;

@ApiTags('jobs')
@ApiKeyAuth()
@Controller('api/cloud/jobs')
export class JobsController {
  constructor(private readonly service: JobsService, private readonly jobs: JobRepository, private readonly hub: JobEventsHub, private readonly shutdown: Shutdown) {}

  @Post()
  @ApiOperation({ summary: 'Submit a training job; answers 202 at once, follow it by GET or SSE' })
  @ApiJson(202, jobWithConfigSchema, 'the job (the first one, with `Idempotent-Replayed: true`, for a repeated Idempotency-Key)')
  @ApiProblems(...SUBMIT_PROBLEMS)
  async submit(
    @CurrentPrincipal() p: Principal,
    @ZodBody(submitJobBodySchema, 'job submission') body: SubmitJobBody,
    @ZodHeader('Idempotency-Key', idempotencyKeyHeaderSchema, 'Idempotency-Key header') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { job, created } = await this.service.submit(p, body, undefined, key);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return job;
  }

  @Post('submit')
  @ApiOperation({ summary: "SimpleTuner's submit path: provider in the query" })
  @ApiJson(202, submitCompatResponseSchema, 'the job, with SimpleTuner\'s fields')
  @ApiProblems(...SUBMIT_PROBLEMS)
  async submitCompat(
    @CurrentPrincipal() p: Principal,
    @ZodBody(submitJobBodySchema, 'job submission') body: SubmitJobBody,
    @ZodQuery(submitCompatQuerySchema) q: SubmitCompatQuery,
    @ZodHeader('Idempotency-Key', idempotencyKeyHeaderSchema, 'Idempotency-Key header') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { job, created } = await this.service.submit(p, body, q.provider, key);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    return { success: true as const, job_id: job.id, status: job.status, idempotent_hit: !created, job };
  }

  @Get()
  @ApiOperation({ summary: "The organisation's jobs, newest first, a page at a time" })
  @ApiJson(200, jobListSchema, 'one page; `next_cursor` is null on the last')
  @ApiProblems()
  list(@CurrentPrincipal() p: Principal, @ZodQuery(listJobsQuerySchema) q: ListJobsQuery) {
    return this.service.list(p, q);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A job: status, progress, package summary, outputs, artifacts' })
  @ApiJson(200, jobDetailSchema, 'the job')
  @ApiProblems('not_found')
  get(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string) {
    return this.service.get(p, id);
  }

  @Post(':id/cancel')
  @ApiOperation({ summary: 'Cancel a job that has not ended' })
  @ApiJson(200, jobSchema, 'the cancelled job')
  @ApiProblems('not_found', 'job_not_active')
  cancel(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string) {
    return this.service.cancel(p, id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an ended job with its package and outputs in storage (`?keep_outputs=true` keeps the outputs)' })
  @ApiEmpty(204, 'deleted')
  @ApiProblems('not_found', 'job_not_terminal')
  async remove(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string, @ZodQuery(deleteJobQuerySchema) q: DeleteJobQuery): Promise<void> {
    await this.service.delete(p, id, q.keep_outputs ?? false);
  }

  @Get(':id/events')
  @ApiOperation({ summary: "The job's timeline: every state change and informational event" })
  @ApiJson(200, jobEventListSchema, 'oldest first')
  @ApiProblems('not_found')
  async events(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string) {
    await this.jobs.get(p.orgId, id);
    return { events: (await this.jobs.events(p.orgId, id)).map(eventView) };
  }

  @Get(':id/logs')
  @ApiOperation({ summary: 'Logs: a page of lines, or with `?follow=true` (or `Accept: text/event-stream`) new lines over SSE until the job ends' })
  @ApiAnswers({ status: 200, description: 'a page of lines (JSON), or the stream (SSE, `follow`)', json: jobLogPageSchema, sse: jobLogStreamEventSchema })
  @ApiProblems('not_found')
  async logs(
    @CurrentPrincipal() p: Principal,
    @ZodParam('id', jobIdSchema, 'job id') id: string,
    @ZodQuery(jobLogsQuerySchema) q: JobLogsQuery,
    @ZodHeader('Last-Event-ID', lastEventIdHeaderSchema, 'Last-Event-ID header') resumeFrom: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.jobs.get(p.orgId, id);
    const follow = (q.follow ?? false) || (req.headers.accept ?? '').includes('text/event-stream');
    let after = BigInt(q.after ?? resumeFrom ?? '0');
    if (!follow) {
      const lines = await this.jobs.logs(p.orgId, id, after, q.limit);
      const page: JobLogPage = { logs: lines.map(logView), next_after: lines.at(-1)?.id.toString() ?? after.toString() };
      res.json(page);
      return;
    }
    const sse = openSse<JobLogStreamEvent>(res, this.shutdown.signal);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const stop = AbortSignal.any([abort.signal, this.shutdown.signal]);
    while (!sse.closed()) {
      const lines = await this.jobs.logs(p.orgId, id, after, 500);
      for (const l of lines) sse.send({ event: 'log', id: l.id.toString(), data: logView(l) });
      after = lines.at(-1)?.id ?? after;
      if (lines.length === 500) continue;
      const job = await this.jobs.find(p.orgId, id);
      if (!job || isTerminal(job.status as JobStatus)) {
        // One more read: lines written just before the terminal change must not be lost.
        for (const l of await this.jobs.logs(p.orgId, id, after, 5000)) sse.send({ event: 'log', id: l.id.toString(), data: logView(l) });
        sse.send({ event: 'end', data: { status: job?.status ?? 'deleted' } });
        break;
      }
      await this.hub.waitFor({ jobId: id }, 1_000, stop);
    }
    sse.close();
  }
}

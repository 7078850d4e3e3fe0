import { Body, Controller, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { GatewayEnv } from '@ct/config';
import {
  heartbeatBody, jobReportBody, logBatchBody, registerWorkerBody,
  type ClaimedJob, type HeartbeatBody, type JobReportBody, type LogBatchBody, type RegisterWorkerBody, type RegisterWorkerResponse,
} from '@ct/contracts';
import { ArtifactRepository, enqueueInTx, gpuMemoryOf, JobRepository, PrismaClient, WorkerRepository, type Job, type Worker } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { deriveSecret, jobAccessKeyId } from '@ct/storage';
import { storageMasterKey } from '@ct/config';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CurrentWorker, WorkerAuth } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { Shutdown } from '../common/shutdown';
import { JobEventsHub } from '../events/job-events.hub';
import { GATEWAY_ENV } from '../infra.tokens';

const jobIdParam = new ZodPipe(z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, 'not a job id'), 'job id');
const claimQuery = z.object({ waitMs: z.coerce.number().int().min(0).max(60_000).default(20_000) }).strict();

/** The worker agents' protocol (docs/WORKER-PROTOCOL.md). Authenticated by worker token, not API key. */
@ApiTags('worker protocol')
@WorkerAuth()
@Controller('api/workers')
export class WorkerProtocolController {
  private readonly masterKey: string;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly workers: WorkerRepository,
    private readonly jobs: JobRepository,
    private readonly prisma: PrismaClient,
    private readonly hub: JobEventsHub,
    private readonly artifacts: ArtifactRepository,
    private readonly shutdown: Shutdown,
    private readonly providers: ProviderRegistry,
  ) {
    this.masterKey = storageMasterKey(env);
    // Jobs of these providers wait for a worker agent to claim them (the self-hosted ones of the catalog).
    this.claimable = providers.names((d) => d.capabilities.workerClaimed && !d.comingSoon);
  }

  private readonly claimable: string[];

  @Post('register')
  @HttpCode(200)
  async register(@CurrentWorker() w: Worker, @Body(new ZodPipe(registerWorkerBody, 'registration')) body: RegisterWorkerBody): Promise<RegisterWorkerResponse> {
    // Labels and GPU memory are the admin's: what the agent says of itself is recorded, never trusted for routing.
    const worker = await this.workers.register(w, body);
    const ignored = body.labels.filter((l) => !worker.labels.includes(l));
    return {
      workerId: worker.id, heartbeatIntervalMs: this.env.WORKER_HEARTBEAT_INTERVAL_MS, leaseTtlMs: this.env.WORKER_LEASE_TTL_MS,
      labels: worker.labels, gpuMemoryGib: gpuMemoryOf(worker), ...(ignored.length ? { ignoredLabels: ignored } : {}),
    };
  }

  /** Long-poll: answers with a job as soon as one matching this worker is queued, or 204 after waitMs. */
  @Post('claim')
  async claim(@CurrentWorker() w: Worker, @Query(new ZodPipe(claimQuery, 'query')) q: z.infer<typeof claimQuery>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const deadline = Date.now() + Math.min(q.waitMs, this.env.WORKER_CLAIM_MAX_WAIT_MS);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    // A shutting-down gateway answers "nothing yet" at once; the agent claims again from the next instance.
    const stop = AbortSignal.any([abort.signal, this.shutdown.signal]);
    while (!stop.aborted) {
      const worker = (await this.workers.get(w.orgId, w.id));
      const claimed = await this.workers.claim(worker, this.env.WORKER_LEASE_TTL_MS, this.claimable);
      if (claimed) {
        res.status(200).json(await this.claimedJob(claimed.job, claimed.fence, req));
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.hub.waitFor({ orgId: w.orgId }, Math.min(left, 2_000), stop);
    }
    if (!res.headersSent && !abort.signal.aborted) res.status(204).end();
  }

  private async claimedJob(job: Job, fence: number, req: Request): Promise<ClaimedJob> {
    const pkg = await this.artifacts.findPackage(job.orgId, job.id);
    const accessKeyId = jobAccessKeyId(job.id, fence);
    const base = this.env.PUBLIC_URL ?? `${req.protocol}://${req.headers.host}`;
    return {
      jobId: job.id,
      fence,
      name: job.name,
      config: job.config as Record<string, unknown>,
      dataloader: (job.rewrittenDataloader ?? []) as unknown[],
      storage: {
        endpoint: `${base.replace(/\/$/, '')}/api/cloud/storage`,
        region: this.env.S3_REGION,
        accessKeyId,
        secretAccessKey: deriveSecret(this.masterKey, accessKeyId),
        packageBucket: pkg?.bucket ?? 'datasets',
        packageKey: pkg?.key ?? null,
        outputBucket: 'outputs',
        outputPrefix: job.outputPrefix ?? `${job.orgId}/${job.id}/`,
      },
      leaseTtlMs: this.env.WORKER_LEASE_TTL_MS,
    };
  }

  @Post('heartbeat')
  @HttpCode(200)
  async heartbeat(@CurrentWorker() w: Worker, @Body(new ZodPipe(heartbeatBody, 'heartbeat')) body: HeartbeatBody) {
    return { commands: await this.workers.heartbeat(w, this.env.WORKER_LEASE_TTL_MS, body.jobId, body.fence) };
  }

  @Post('jobs/:id/logs')
  @HttpCode(202)
  async logs(@CurrentWorker() w: Worker, @Param('id', jobIdParam) id: string, @Body(new ZodPipe(logBatchBody, 'log batch')) body: LogBatchBody) {
    await this.workers.assertLease(w, id, body.fence);
    const stored = await this.workers.appendLogBatch(w, id, body.fence, body.seq, body.lines.map((l) => ({ stream: l.stream, line: l.line, ts: l.ts ? new Date(l.ts) : undefined })));
    return { accepted: stored, ...(stored === 0 ? { duplicate: true } : {}) };
  }

  /** Reports go through the outbox to the poller, which applies every status report through one code path. */
  @Post('jobs/:id/report')
  @HttpCode(202)
  async report(@CurrentWorker() w: Worker, @Param('id', jobIdParam) id: string, @Body(new ZodPipe(jobReportBody, 'report')) body: JobReportBody) {
    const terminal = body.kind === 'completed' || body.kind === 'failed';
    const job = await this.workers.assertLease(w, id, body.fence, { endedToo: terminal });
    // The job already ended under this lease: this is the agent re-sending its report after a lost answer.
    if (job.status !== 'running') return { accepted: true, duplicate: true };
    await this.prisma.$transaction((tx) =>
      enqueueInTx(tx, 'provider-events', {
        v: 1, jobId: id, orgId: w.orgId, source: 'worker', fence: body.fence, kind: body.kind,
        progress: body.progress, exitCode: body.exitCode, message: body.message, occurredAt: new Date().toISOString(),
      }, randomUUID()),
    );
    return { accepted: true };
  }
}

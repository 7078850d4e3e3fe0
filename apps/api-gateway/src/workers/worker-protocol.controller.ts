import { Controller, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { GatewayEnv } from '@ct/config';
import {
  claimedJobSchema, claimQuerySchema, heartbeatBodySchema, heartbeatResponseSchema, jobIdSchema, jobReportAcceptedSchema, jobReportBodySchema,
  logBatchAcceptedSchema, logBatchBodySchema, registerWorkerBodySchema, registerWorkerResponseSchema,
  type ClaimedJob, type ClaimQuery, type HeartbeatBody, type JobReportBody, type LogBatchBody, type RegisterWorkerBody,
} from '@ct/contracts';
import { ArtifactRepository, gpuMemoryOf, JobTracker, WorkerRepository, type Job, type Worker } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { deriveSecret, jobAccessKeyId } from '@ct/storage';
import { storageMasterKey } from '@ct/config';
import type { Request, Response } from 'express';
import { CurrentWorker, WorkerAuth } from '../common/auth';
import { Shutdown } from '../common/shutdown';
import { JobEventsHub } from '../events/job-events.hub';
import { GATEWAY_ENV } from '../infra.tokens';
import { ApiAnswers, ApiJson, ApiProblems, ZodBody, ZodParam, ZodQuery } from '../openapi/api-docs.decorators';
import { ApiWorkerAuth } from '../openapi/security';

/** The worker agents' protocol (docs/WORKER-PROTOCOL.md). Authenticated by worker token, not API key. */
@ApiTags('worker protocol')
@ApiWorkerAuth()
@WorkerAuth()
@Controller('api/workers')
export class WorkerProtocolController {
  private readonly masterKey: string;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly workers: WorkerRepository,
    private readonly tracker: JobTracker,
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
  @ApiOperation({ summary: 'A worker agent starts: records its GPUs, answers with its intervals and the labels jobs are routed by' })
  @ApiJson(200, registerWorkerResponseSchema, 'registered')
  @ApiProblems()
  async register(@CurrentWorker() w: Worker, @ZodBody(registerWorkerBodySchema, 'registration') body: RegisterWorkerBody) {
    // Labels and GPU memory are the admin's: what the agent says of itself is recorded, never trusted for routing.
    const worker = await this.workers.register(w, body);
    const ignored = body.labels.filter((l) => !worker.labels.includes(l));
    return {
      workerId: worker.id, heartbeatIntervalMs: this.env.WORKER_HEARTBEAT_INTERVAL_MS, leaseTtlMs: this.env.WORKER_LEASE_TTL_MS,
      labels: worker.labels, gpuMemoryGib: gpuMemoryOf(worker), ...(ignored.length ? { ignoredLabels: ignored } : {}),
    };
  }

  @Post('claim')
  @ApiOperation({ summary: 'Long poll: a job as soon as one matching this worker is queued, or 204 after waitMs' })
  @ApiAnswers({ status: 200, description: 'a job, leased to this worker', json: claimedJobSchema }, { status: 204, description: 'no job arrived within waitMs' })
  @ApiProblems()
  async claim(@CurrentWorker() w: Worker, @ZodQuery(claimQuerySchema) q: ClaimQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
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
  @ApiOperation({ summary: "Renews the lease of the job it names; answers with the worker's commands" })
  @ApiJson(200, heartbeatResponseSchema, 'commands (cancel, drain, shutdown)')
  @ApiProblems()
  async heartbeat(@CurrentWorker() w: Worker, @ZodBody(heartbeatBodySchema, 'heartbeat') body: HeartbeatBody) {
    return { commands: await this.workers.heartbeat(w, this.env.WORKER_LEASE_TTL_MS, body.jobId, body.fence) };
  }

  @Post('jobs/:id/logs')
  @ApiOperation({ summary: "Log lines of the worker's job, under its lease" })
  @ApiJson(202, logBatchAcceptedSchema, 'stored')
  @ApiProblems('not_found', 'stale_lease')
  async logs(@CurrentWorker() w: Worker, @ZodParam('id', jobIdSchema, 'job id') id: string, @ZodBody(logBatchBodySchema, 'log batch') body: LogBatchBody) {
    await this.workers.assertLease(w, id, body.fence);
    const stored = await this.workers.appendLogBatch(w, id, body.fence, body.seq, body.lines.map((l) => ({ stream: l.stream, line: l.line, ts: l.ts ? new Date(l.ts) : undefined })));
    return stored === 0 ? { accepted: 0, duplicate: true as const } : { accepted: stored };
  }

  /** Reports go through the outbox to the poller, which applies every status report through one code path. */
  @Post('jobs/:id/report')
  @ApiOperation({ summary: "A status report of the worker's job (started, progress, completed, failed), under its lease" })
  @ApiJson(202, jobReportAcceptedSchema, 'accepted; the poller applies it')
  @ApiProblems('not_found', 'stale_lease')
  async report(@CurrentWorker() w: Worker, @ZodParam('id', jobIdSchema, 'job id') id: string, @ZodBody(jobReportBodySchema, 'report') body: JobReportBody) {
    const terminal = body.kind === 'completed' || body.kind === 'failed';
    const job = await this.workers.assertLease(w, id, body.fence, { endedToo: terminal });
    // The job already ended under this lease: this is the agent re-sending its report after a lost answer.
    if (job.status !== 'running') return { accepted: true as const, duplicate: true as const };
    // Applied here and now through the one code path every report takes (JobTracker.applyReport): a report
    // answered 202 is recorded, whatever happens to Redis afterwards, and one worker's reports stay in order.
    await this.tracker.applyReport({
      v: 1, jobId: id, orgId: w.orgId, source: 'worker', fence: body.fence, kind: body.kind,
      progress: body.progress, exitCode: body.exitCode, message: body.message, occurredAt: new Date().toISOString(),
    });
    return { accepted: true as const };
  }
}

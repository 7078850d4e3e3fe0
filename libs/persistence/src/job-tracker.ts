import type { ProviderEventPayload } from '@ct/contracts';
import { assertTransition, isTerminal, percentOf, type JobProgress, type JobStatus } from '@ct/job-domain';
import type { Job } from './generated/prisma/client';
import type { Prisma, PrismaClient, Tx } from './prisma';
import { enqueueInTx, publishInTx } from './outbox';

export interface TransitionRequest {
  orgId: string;
  jobId: string;
  to: JobStatus;
  reason: string;
  /** Only apply when the job is in one of these states (in addition to the state machine's rules). */
  from?: readonly JobStatus[];
  /** Only apply under this lease (fencing token): a stale worker cannot move the job. */
  fence?: number;
  patch?: Prisma.JobUncheckedUpdateManyInput;
  data?: Prisma.InputJsonValue;
}

export type TransitionOutcome =
  | { applied: true; job: Job }
  | { applied: false; reason: 'not_found' | 'wrong_state' | 'stale_lease' | 'lost_race'; job: Job | null };

/**
 * The single place job status changes: state machine check, compare-and-set on (id, status[, fence]),
 * timeline event, job-changed notification and, on a terminal state, the `finalize` work item.
 */
export class JobTracker {
  constructor(private readonly prisma: PrismaClient) {}

  transition(req: TransitionRequest): Promise<TransitionOutcome> {
    return this.prisma.$transaction((tx) => this.transitionInTx(tx, req));
  }

  async transitionInTx(tx: Tx, req: TransitionRequest): Promise<TransitionOutcome> {
    const job = await tx.job.findFirst({ where: { id: req.jobId, orgId: req.orgId } });
    if (!job) return { applied: false, reason: 'not_found', job: null };
    const from = job.status as JobStatus;
    if (req.fence !== undefined && job.leaseFence !== req.fence) return { applied: false, reason: 'stale_lease', job };
    if (req.from && !req.from.includes(from)) return { applied: false, reason: 'wrong_state', job };
    assertTransition(from, req.to);
    const now = new Date();
    const terminal = isTerminal(req.to);
    const { count } = await tx.job.updateMany({
      where: { id: job.id, orgId: job.orgId, status: from, leaseFence: job.leaseFence },
      data: {
        ...req.patch,
        status: req.to,
        updatedAt: now,
        ...(req.to === 'running' && !job.startedAt ? { startedAt: now } : {}),
        ...(terminal ? { finishedAt: now } : {}),
      },
    });
    if (count !== 1) return { applied: false, reason: 'lost_race', job };
    await tx.jobEvent.create({
      data: { orgId: job.orgId, jobId: job.id, fromStatus: from, toStatus: req.to, reason: req.reason, data: req.data ?? undefined, createdAt: now },
    });
    await publishInTx(tx, { type: 'job.changed', orgId: job.orgId, jobId: job.id, status: req.to, reason: req.reason, at: now.toISOString() });
    if (terminal) await enqueueInTx(tx, 'finalize', { v: 1, jobId: job.id, orgId: job.orgId });
    const updated = await tx.job.findFirstOrThrow({ where: { id: job.id } });
    return { applied: true, job: updated };
  }

  /** Applies one status report (worker report, webhook, poll, heartbeat monitor): the poller's one code path. */
  async applyReport(r: ProviderEventPayload): Promise<TransitionOutcome | { applied: boolean; reason: string; job: Job | null }> {
    const fence = r.source === 'worker' ? r.fence : undefined;
    const cost: Prisma.JobUncheckedUpdateManyInput = r.costMicros !== undefined ? { costMicros: BigInt(r.costMicros) } : {};
    if (r.source !== 'worker' && ['started', 'progress', 'completed', 'failed'].includes(r.kind)) {
      // A provider may report a later state before we saw it start (a lost webhook, a slow poll).
      await this.transition({ orgId: r.orgId, jobId: r.jobId, to: 'running', from: ['queued'], reason: 'started on the provider', patch: cost });
    }
    switch (r.kind) {
      case 'queued':
        return this.recordProgress(r, fence, null, cost);
      case 'started':
        return this.recordProgress(r, fence, r.source === 'worker' ? 'trainer started' : null, cost);
      case 'progress':
        return this.recordProgress(r, fence, null, cost);
      case 'completed':
        return this.transition({ orgId: r.orgId, jobId: r.jobId, to: 'completed', from: ['running'], fence, reason: r.message ?? 'trainer finished', patch: { exitCode: r.exitCode ?? 0, ...cost }, data: { source: r.source } });
      case 'failed':
        return this.transition({
          orgId: r.orgId, jobId: r.jobId, to: 'failed', fence,
          reason: r.message ?? 'trainer failed',
          patch: { exitCode: r.exitCode ?? null, error: r.message ?? 'trainer failed', ...cost },
          data: { source: r.source, exitCode: r.exitCode ?? null },
        });
      case 'cancelled':
        return this.transition({ orgId: r.orgId, jobId: r.jobId, to: 'cancelled', fence, reason: r.message ?? 'cancelled by provider', patch: cost });
      case 'lost':
        return { applied: false, reason: 'use WorkerRepository.handleLostLease', job: null };
    }
  }

  private async recordProgress(r: ProviderEventPayload, fence: number | undefined, note: string | null, extra: Prisma.JobUncheckedUpdateManyInput = {}) {
    return this.prisma.$transaction(async (tx) => {
      const job = await tx.job.findFirst({ where: { id: r.jobId, orgId: r.orgId } });
      if (!job) return { applied: false, reason: 'not_found', job: null };
      if (fence !== undefined && job.leaseFence !== fence) return { applied: false, reason: 'stale_lease', job };
      if (job.status !== 'running' && job.status !== 'queued') return { applied: false, reason: 'wrong_state', job };
      const data: Prisma.JobUncheckedUpdateManyInput = { updatedAt: new Date(), ...extra };
      // An accrued cost only grows: a late, older report must not lower what the job already shows.
      if (typeof data.costMicros === 'bigint' && data.costMicros < job.costMicros) delete data.costMicros;
      if (r.progress) data.progress = mergeProgress(job.progress as JobProgress | null, r.progress, r.occurredAt) as object;
      await tx.job.updateMany({ where: { id: job.id, leaseFence: job.leaseFence, status: job.status }, data });
      if (note) await tx.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, fromStatus: job.status, toStatus: job.status, reason: note } });
      if (r.progress?.checkpoint) {
        await tx.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, fromStatus: 'running', toStatus: 'running', reason: `checkpoint saved: ${r.progress.checkpoint}`, data: { step: r.progress.step } } });
      }
      await publishInTx(tx, { type: 'job.changed', orgId: job.orgId, jobId: job.id, status: job.status, reason: note ?? 'progress', at: r.occurredAt });
      return { applied: true, reason: 'ok', job };
    });
  }
}

export function mergeProgress(prev: JobProgress | null, p: NonNullable<ProviderEventPayload['progress']>, at: string): JobProgress {
  const totalSteps = p.totalSteps ?? prev?.totalSteps ?? null;
  return {
    step: Math.max(p.step, prev?.step ?? 0),
    totalSteps,
    loss: p.loss ?? prev?.loss ?? null,
    lastCheckpoint: p.checkpoint ?? prev?.lastCheckpoint ?? null,
    percent: percentOf(Math.max(p.step, prev?.step ?? 0), totalSteps),
    updatedAt: at,
  };
}

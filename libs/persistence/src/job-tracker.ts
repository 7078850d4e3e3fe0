import type { ProviderEventPayload } from '@ct/contracts';
import { canTransition, isTerminal, percentOf, type JobProgress, type JobStatus } from '@ct/job-domain';
import { assertTransition } from '@ct/job-domain';
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
  /** Only apply while this step claim holds (StepClaim.owner); the claim ends with the transition unless `keepClaim`. */
  claim?: string;
  keepClaim?: boolean;
  patch?: Prisma.JobUncheckedUpdateManyInput;
  data?: Prisma.InputJsonValue;
}

export type TransitionOutcome =
  | { applied: true; job: Job }
  | { applied: false; reason: 'not_found' | 'wrong_state' | 'stale_lease' | 'lost_race' | 'claim_lost' | 'already_ended'; job: Job | null };

/**
 * The single place job status changes: state machine check, compare-and-set on (id, status, fence[, claim]),
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
    if (req.claim !== undefined && job.stepOwner !== req.claim) return { applied: false, reason: 'claim_lost', job };
    if (req.from && !req.from.includes(from)) return { applied: false, reason: 'wrong_state', job };
    assertTransition(from, req.to);
    const now = new Date();
    const terminal = isTerminal(req.to);
    const { count } = await tx.job.updateMany({
      where: { id: job.id, orgId: job.orgId, status: from, leaseFence: job.leaseFence, ...(req.claim !== undefined ? { stepOwner: req.claim } : {}) },
      data: {
        ...req.patch,
        status: req.to,
        updatedAt: now,
        ...(req.claim !== undefined && !req.keepClaim ? { stepOwner: null, stepUntil: null } : {}),
        ...(req.to === 'running' && !job.startedAt ? { startedAt: now } : {}),
        // An ended job holds no reservation: what it cost (cost_micros) is what counts against the limits.
        ...(terminal ? { finishedAt: now, reservedMicros: 0n } : {}),
      },
    });
    if (count !== 1) return { applied: false, reason: 'lost_race', job };
    await tx.jobEvent.create({
      data: { orgId: job.orgId, jobId: job.id, fromStatus: from, toStatus: req.to, reason: req.reason, data: req.data ?? undefined, createdAt: now },
    });
    await publishInTx(tx, { type: 'job.changed', orgId: job.orgId, jobId: job.id, status: req.to, reason: req.reason, at: now.toISOString() });
    if (terminal) await enqueueInTx(tx, 'finalize', { v: 1, jobId: job.id, orgId: job.orgId });
    if (terminal && job.admittedAt) {
      // A slot was freed: wake the dispatch of a job waiting for this provider; its admission fills every free slot in queue order.
      const next = await tx.job.findFirst({ where: { provider: job.provider, status: 'waiting', admittedAt: null }, orderBy: [{ priority: 'desc' }, { createdAt: 'asc' }], select: { id: true, orgId: true } });
      if (next) await enqueueInTx(tx, 'dispatch', { v: 1, jobId: next.id, orgId: next.orgId }, `wake-${job.id}`);
    }
    const updated = await tx.job.findFirstOrThrow({ where: { id: job.id } });
    return { applied: true, job: updated };
  }

  /**
   * Applies one status report (worker report, webhook, poll): the poller's one code path. A report about a
   * job that already ended is answered `already_ended` (a late `completed` webhook for a cancelled job is
   * normal, not an error); its progress still counts, so a finished job shows its final step.
   */
  async applyReport(r: ProviderEventPayload): Promise<TransitionOutcome | { applied: boolean; reason: string; job: Job | null }> {
    const fence = r.source === 'worker' ? r.fence : undefined;
    const cost: Prisma.JobUncheckedUpdateManyInput = r.costMicros !== undefined ? { costMicros: BigInt(r.costMicros) } : {};
    if (r.source !== 'worker' && ['started', 'progress', 'completed', 'failed'].includes(r.kind)) {
      // A provider may report a later state before we saw it start (a lost webhook, a slow poll).
      await this.transition({ orgId: r.orgId, jobId: r.jobId, to: 'running', from: ['queued', 'uploading'], reason: 'started on the provider', patch: cost });
    }
    if (r.kind === 'queued' || r.kind === 'started' || r.kind === 'progress') {
      return this.recordProgress(r, fence, r.kind === 'started' && r.source === 'worker' ? 'trainer started' : null, cost);
    }
    if (r.kind === 'lost') return { applied: false, reason: 'use WorkerRepository.handleLostLease', job: null };
    const to: JobStatus = r.kind;
    return this.prisma.$transaction(async (tx) => {
      const job = await tx.job.findFirst({ where: { id: r.jobId, orgId: r.orgId } });
      if (!job) return { applied: false, reason: 'not_found', job: null };
      const progress = r.progress ? { progress: mergeProgress(job.progress as JobProgress | null, r.progress, r.occurredAt) as object } : {};
      if (isTerminal(job.status as JobStatus) || !canTransition(job.status as JobStatus, to)) {
        if (fence !== undefined && job.leaseFence !== fence) return { applied: false, reason: 'stale_lease', job };
        if (r.progress && isTerminal(job.status as JobStatus)) await tx.job.updateMany({ where: { id: job.id, status: job.status }, data: progress });
        return { applied: false, reason: isTerminal(job.status as JobStatus) ? 'already_ended' : 'wrong_state', job };
      }
      const patch: Prisma.JobUncheckedUpdateManyInput = { ...cost, ...progress };
      if (to === 'completed') patch.exitCode = r.exitCode ?? 0;
      if (to === 'failed') Object.assign(patch, { exitCode: r.exitCode ?? null, error: r.message ?? 'trainer failed' });
      const reason = r.message ?? (to === 'completed' ? 'trainer finished' : to === 'failed' ? 'trainer failed' : 'cancelled by provider');
      const data = to === 'failed' ? { source: r.source, exitCode: r.exitCode ?? null } : { source: r.source };
      return this.transitionInTx(tx, { orgId: r.orgId, jobId: r.jobId, to, from: ['running'], fence, reason, patch, data });
    });
  }

  private async recordProgress(r: ProviderEventPayload, fence: number | undefined, note: string | null, extra: Prisma.JobUncheckedUpdateManyInput = {}) {
    return this.prisma.$transaction(async (tx) => {
      const job = await tx.job.findFirst({ where: { id: r.jobId, orgId: r.orgId } });
      if (!job) return { applied: false, reason: 'not_found', job: null };
      if (fence !== undefined && job.leaseFence !== fence) return { applied: false, reason: 'stale_lease', job };
      const status = job.status as JobStatus;
      // Progress that arrives after the end (reports are applied concurrently) still counts: it only grows.
      const ended = isTerminal(status);
      if (!ended && status !== 'running' && status !== 'queued') return { applied: false, reason: 'wrong_state', job };
      const data: Prisma.JobUncheckedUpdateManyInput = ended ? {} : { updatedAt: new Date(), ...extra };
      // An accrued cost only grows: a late, older report must not lower what the job already shows.
      if (typeof data.costMicros === 'bigint' && data.costMicros < job.costMicros) delete data.costMicros;
      if (r.progress) data.progress = mergeProgress(job.progress as JobProgress | null, r.progress, r.occurredAt) as object;
      if (Object.keys(data).length === 0) return { applied: false, reason: 'already_ended', job };
      await tx.job.updateMany({ where: { id: job.id, leaseFence: job.leaseFence, status: job.status }, data });
      if (ended) return { applied: true, reason: 'late progress', job };
      if (note) await tx.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, fromStatus: job.status, toStatus: job.status, reason: note } });
      if (r.progress?.checkpoint) {
        await tx.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, fromStatus: 'running', toStatus: 'running', reason: `checkpoint saved: ${r.progress.checkpoint}`, data: { step: r.progress.step } } });
      }
      await publishInTx(tx, { type: 'job.changed', orgId: job.orgId, jobId: job.id, status: job.status, reason: note ?? 'progress', at: r.occurredAt });
      return { applied: true, reason: 'ok', job };
    });
  }
}

/** Progress only moves forward: a report older than what the job shows cannot lower its step. */
export function mergeProgress(prev: JobProgress | null, p: NonNullable<ProviderEventPayload['progress']>, at: string): JobProgress {
  const totalSteps = p.totalSteps ?? prev?.totalSteps ?? null;
  const newer = p.step >= (prev?.step ?? 0);
  const step = Math.max(p.step, prev?.step ?? 0);
  return {
    step,
    totalSteps,
    loss: (newer ? p.loss : prev?.loss) ?? p.loss ?? prev?.loss ?? null,
    lastCheckpoint: (newer ? p.checkpoint : null) ?? prev?.lastCheckpoint ?? p.checkpoint ?? null,
    percent: percentOf(step, totalSteps),
    updatedAt: newer ? at : (prev?.updatedAt ?? at),
  };
}

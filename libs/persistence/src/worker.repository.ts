import { DomainError, NotFoundError } from '@ct/job-domain';
import type { WorkerCommand } from '@ct/contracts';
import type { Job, Worker, WorkerLease } from './generated/prisma/client';
import type { PrismaClient, Tx } from './prisma';
import { JobTracker } from './job-tracker';
import { SCHEDULING_ORDER } from './scheduling.repository';
import { generateToken, hashToken } from './tokens';

export type { Worker, WorkerLease };

export interface GpuInfo { name: string; memoryMiB: number }

/** Routes jobs to the orchestrator's own machine; only the embedded worker carries it. */
export const LOCAL_LABEL = 'local';

function assertLabels(labels: readonly string[], allowLocal: boolean): void {
  if (!allowLocal && labels.includes(LOCAL_LABEL)) {
    throw new DomainError('validation_failed', 'The "local" label belongs to the embedded worker of this machine; give this worker another label.', { label: LOCAL_LABEL });
  }
}

/**
 * The GPU memory jobs may count on: what the admin vouched for, lowered to the largest GPU the agent
 * reports (a worker cannot raise its own limit; a misconfigured one can only lower it).
 */
export function gpuMemoryOf(worker: Pick<Worker, 'gpuMemoryGib' | 'gpus'>): number {
  const reported = Math.max(0, ...((worker.gpus as unknown as GpuInfo[] | null) ?? []).map((g) => g.memoryMiB / 1024));
  return Math.min(worker.gpuMemoryGib, reported);
}

/** Workers of one organisation, their tokens, and the leases under which they run jobs. */
export class WorkerRepository {
  private readonly tracker: JobTracker;
  constructor(private readonly prisma: PrismaClient) {
    this.tracker = new JobTracker(prisma);
  }

  /**
   * A worker's labels and GPU memory are the admin's: set here (and by update), never by the worker. The
   * `local` label routes jobs to this machine and belongs to the embedded worker alone (`allowLocal`).
   */
  async create(orgId: string, name: string, labels: string[], opts: { gpuMemoryGib?: number; allowLocal?: boolean } = {}): Promise<{ worker: Worker; token: string }> {
    assertLabels(labels, opts.allowLocal ?? false);
    const { token, prefix } = generateToken('ctw');
    try {
      const worker = await this.prisma.worker.create({ data: { orgId, name, labels, gpuMemoryGib: opts.gpuMemoryGib ?? 0, tokenPrefix: prefix, tokenHash: hashToken(token) } });
      return { worker, token };
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new DomainError('conflict', `A worker named "${name}" already exists.`);
      throw err;
    }
  }

  /** The admin changes a worker's labels or GPU memory. */
  async update(orgId: string, id: string, patch: { labels?: string[]; gpuMemoryGib?: number }): Promise<Worker> {
    const worker = await this.get(orgId, id);
    if (patch.labels) assertLabels(patch.labels, worker.labels.includes(LOCAL_LABEL));
    return this.prisma.worker.update({ where: { id }, data: { ...(patch.labels ? { labels: patch.labels } : {}), ...(patch.gpuMemoryGib !== undefined ? { gpuMemoryGib: patch.gpuMemoryGib } : {}) } });
  }

  list(orgId: string): Promise<Worker[]> {
    return this.prisma.worker.findMany({ where: { orgId }, orderBy: { createdAt: 'asc' } });
  }

  async get(orgId: string, id: string): Promise<Worker> {
    const w = await this.prisma.worker.findFirst({ where: { id, orgId } });
    if (!w) throw new NotFoundError('Worker', id);
    return w;
  }

  findByName(orgId: string, name: string): Promise<Worker | null> {
    return this.prisma.worker.findFirst({ where: { orgId, name } });
  }

  /**
   * A new token; the old one stops at once, and so do the S3 credentials of the job the worker holds: the
   * job goes back to the queue under a new fence (a rotated token is usually a leaked one).
   */
  async rotateToken(orgId: string, id: string): Promise<{ worker: Worker; token: string; requeued: string[] }> {
    const current = await this.get(orgId, id);
    const { token, prefix } = generateToken('ctw');
    return this.prisma.$transaction(async (tx) => {
      const worker = await tx.worker.update({ where: { id }, data: { tokenPrefix: prefix, tokenHash: hashToken(token) } });
      const requeued = await this.revokeJobs(tx, current, `the token of worker ${current.name} was rotated`);
      return { worker, token, requeued };
    });
  }

  async drain(orgId: string, id: string): Promise<Worker> {
    await this.get(orgId, id);
    return this.prisma.worker.update({ where: { id }, data: { status: 'draining' } });
  }

  /** Removes the worker; a job it was running goes back to the queue (its lease and credentials end). */
  async delete(orgId: string, id: string): Promise<void> {
    const worker = await this.get(orgId, id);
    await this.prisma.$transaction(async (tx) => {
      await this.revokeJobs(tx, worker, `worker ${worker.name} was deleted`);
      const { count } = await tx.worker.deleteMany({ where: { id, orgId } });
      if (count === 0) throw new NotFoundError('Worker', id);
    });
  }

  /** Takes back the jobs a worker runs: requeued (not counted against the job's requeue limit) under a new fence. */
  private async revokeJobs(tx: Tx, worker: Worker, why: string): Promise<string[]> {
    const jobs = await tx.job.findMany({ where: { orgId: worker.orgId, workerId: worker.id, status: 'running' } });
    const requeued: string[] = [];
    for (const job of jobs) {
      await tx.workerLease.updateMany({ where: { jobId: job.id, releasedAt: null }, data: { releasedAt: new Date(), outcome: 'revoked' } });
      const r = await this.tracker.transitionInTx(tx, {
        orgId: job.orgId, jobId: job.id, to: 'queued', fence: job.leaseFence, reason: `${why}; requeued`,
        patch: { workerId: null, leaseFence: job.leaseFence + 1, progress: undefined },
      });
      if (r.applied) requeued.push(job.id);
    }
    return requeued;
  }

  authenticate(token: string): Promise<Worker | null> {
    return this.prisma.worker.findUnique({ where: { tokenHash: hashToken(token) } });
  }

  /** Records what the agent reports of its machine. Its labels stay the admin's: the agent's own are ignored. */
  async register(worker: Worker, info: { gpus: GpuInfo[]; hostname?: string | undefined }): Promise<Worker> {
    const status = worker.status === 'draining' ? 'draining' : 'online';
    return this.prisma.worker.update({
      where: { id: worker.id },
      data: { gpus: info.gpus as object[], hostname: info.hostname ?? null, status, lastHeartbeatAt: new Date() },
    });
  }

  /**
   * Atomically hands the oldest matching queued job to this worker: `FOR UPDATE SKIP LOCKED` lets any
   * number of gateways and workers claim at once without two of them getting the same job, and the new
   * lease's fencing token (job.lease_fence + 1) invalidates every report made under an older lease.
   */
  async claim(worker: Worker, leaseTtlMs: number, providers: readonly string[]): Promise<{ job: Job; fence: number } | null> {
    if (worker.status === 'draining') return null;
    const maxGpuGiB = gpuMemoryOf(worker);
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Array<{ id: string; lease_fence: number }>>`
        SELECT id, lease_fence FROM jobs
        WHERE org_id = ${worker.orgId} AND status = 'queued' AND provider = ANY(${[...providers]}::text[])
          AND COALESCE(requirements->'labels', '[]'::jsonb) <@ to_jsonb(${worker.labels}::text[])
          AND COALESCE((requirements->>'min_gpu_memory_gib')::numeric, 0) <= ${maxGpuGiB}
        ORDER BY ${SCHEDULING_ORDER}
        FOR UPDATE SKIP LOCKED
        LIMIT 1`;
      const row = rows[0];
      if (!row) return null;
      const fence = row.lease_fence + 1;
      const outcome = await this.tracker.transitionInTx(tx, {
        orgId: worker.orgId, jobId: row.id, to: 'running', from: ['queued'],
        reason: `claimed by worker ${worker.name}`,
        patch: { workerId: worker.id, leaseFence: fence },
        data: { workerId: worker.id, fence },
      });
      if (!outcome.applied) return null;
      await tx.workerLease.create({
        data: { orgId: worker.orgId, jobId: row.id, workerId: worker.id, fence, expiresAt: new Date(Date.now() + leaseTtlMs) },
      });
      return { job: outcome.job, fence };
    });
  }

  /** Records a heartbeat, renews the lease it names, and answers with the commands for this worker. */
  async heartbeat(worker: Worker, leaseTtlMs: number, jobId?: string, fence?: number): Promise<WorkerCommand[]> {
    const now = new Date();
    await this.prisma.worker.updateMany({
      where: { id: worker.id },
      data: { lastHeartbeatAt: now, ...(worker.status === 'draining' ? {} : { status: 'online' }) },
    });
    const commands: WorkerCommand[] = [];
    if (jobId !== undefined && fence !== undefined) {
      const renewed = await this.prisma.workerLease.updateMany({
        where: { jobId, fence, workerId: worker.id, releasedAt: null, job: { status: 'running', leaseFence: fence } },
        data: { expiresAt: new Date(now.getTime() + leaseTtlMs) },
      });
      if (renewed.count === 0) commands.push({ type: 'cancel', jobId });
    }
    if (worker.status === 'draining') commands.push({ type: 'drain' });
    return commands;
  }

  /**
   * Throws stale_lease unless this worker holds the job's current lease. With `endedToo`, a job that
   * this worker ended under this lease also passes (a terminal report re-sent after its answer was lost).
   */
  async assertLease(worker: Worker, jobId: string, fence: number, opts: { endedToo?: boolean } = {}): Promise<Job> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, orgId: worker.orgId } });
    if (!job) throw new NotFoundError('Job', jobId);
    const ours = job.workerId === worker.id && job.leaseFence === fence;
    const ended = ['completed', 'failed', 'cancelled'].includes(job.status);
    if (!ours || (job.status !== 'running' && !(opts.endedToo && ended))) {
      throw new DomainError('stale_lease', `This worker no longer holds job ${jobId} (lease ${fence}); stop working on it.`, { jobId, fence });
    }
    return job;
  }

  /**
   * Stores a log batch under the worker's current lease, once: a numbered batch is taken only if its number
   * is past the last stored one (a compare-and-set on the lease), so a re-sent batch adds nothing.
   */
  async appendLogBatch(worker: Worker, jobId: string, fence: number, seq: number | undefined, lines: Array<{ stream: string; line: string; ts?: Date }>): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      if (seq !== undefined) {
        const { count } = await tx.workerLease.updateMany({ where: { jobId, fence, workerId: worker.id, releasedAt: null, logSeq: { lt: seq } }, data: { logSeq: seq } });
        if (count === 0) return 0;
      }
      await tx.jobLog.createMany({ data: lines.map((l) => ({ orgId: worker.orgId, jobId, stream: l.stream, line: l.line, ts: l.ts ?? new Date() })) });
      return lines.length;
    });
  }

  /** Marks workers whose heartbeats stopped as offline. */
  async markSilentWorkersOffline(timeoutMs: number): Promise<number> {
    const { count } = await this.prisma.worker.updateMany({
      where: { status: { in: ['online', 'draining'] }, lastHeartbeatAt: { lt: new Date(Date.now() - timeoutMs) } },
      data: { status: 'offline' },
    });
    return count;
  }

  /** Leases past their expiry whose job is still running under them: the worker is gone. */
  expiredLeases(limit = 100): Promise<Array<WorkerLease & { worker: Worker }>> {
    return this.prisma.workerLease.findMany({
      where: { releasedAt: null, expiresAt: { lt: new Date() }, job: { status: 'running' } },
      include: { worker: true },
      take: limit,
    });
  }

  /** Requeues the job of a lost lease (up to its max requeues), else fails it with a reason that says so. */
  async handleLostLease(lease: WorkerLease & { worker: Worker }): Promise<'requeued' | 'failed' | 'skipped'> {
    return this.prisma.$transaction(async (tx) => {
      await tx.workerLease.update({ where: { id: lease.id }, data: { releasedAt: new Date(), outcome: 'expired' } });
      const job = await tx.job.findFirst({ where: { id: lease.jobId, orgId: lease.orgId } });
      if (!job || job.status !== 'running' || job.leaseFence !== lease.fence) return 'skipped';
      const lost = `worker ${lease.worker.name} stopped sending heartbeats`;
      if (job.requeueCount < job.maxRequeues) {
        const n = job.requeueCount + 1;
        const r = await this.tracker.transitionInTx(tx, {
          orgId: job.orgId, jobId: job.id, to: 'queued', fence: lease.fence,
          reason: `${lost}; requeued (${n} of ${job.maxRequeues})`,
          patch: { workerId: null, requeueCount: n, progress: undefined },
        });
        return r.applied ? 'requeued' : 'skipped';
      }
      const reason = `${lost}; not requeued again (already requeued ${job.requeueCount} time(s), limit ${job.maxRequeues})`;
      const r = await this.tracker.transitionInTx(tx, { orgId: job.orgId, jobId: job.id, to: 'failed', fence: lease.fence, reason, patch: { error: reason } });
      return r.applied ? 'failed' : 'skipped';
    });
  }

  async releaseLeases(jobId: string, outcome: string): Promise<void> {
    await this.prisma.workerLease.updateMany({ where: { jobId, releasedAt: null }, data: { releasedAt: new Date(), outcome } });
  }
}

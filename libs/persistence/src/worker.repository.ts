import { DomainError, NotFoundError } from '@ct/job-domain';
import type { WorkerCommand } from '@ct/contracts';
import type { Job, Worker, WorkerLease } from './generated/prisma/client';
import type { PrismaClient } from './prisma';
import { JobTracker } from './job-tracker';
import { generateToken, hashToken } from './tokens';

export type { Worker, WorkerLease };

export interface GpuInfo { name: string; memoryMiB: number }

/** Workers of one organisation, their tokens, and the leases under which they run jobs. */
export class WorkerRepository {
  private readonly tracker: JobTracker;
  constructor(private readonly prisma: PrismaClient) {
    this.tracker = new JobTracker(prisma);
  }

  async create(orgId: string, name: string, labels: string[]): Promise<{ worker: Worker; token: string }> {
    const { token, prefix } = generateToken('ctw');
    try {
      const worker = await this.prisma.worker.create({ data: { orgId, name, labels, tokenPrefix: prefix, tokenHash: hashToken(token) } });
      return { worker, token };
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new DomainError('conflict', `A worker named "${name}" already exists.`);
      throw err;
    }
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

  async rotateToken(orgId: string, id: string): Promise<{ worker: Worker; token: string }> {
    await this.get(orgId, id);
    const { token, prefix } = generateToken('ctw');
    const worker = await this.prisma.worker.update({ where: { id }, data: { tokenPrefix: prefix, tokenHash: hashToken(token) } });
    return { worker, token };
  }

  async drain(orgId: string, id: string): Promise<Worker> {
    await this.get(orgId, id);
    return this.prisma.worker.update({ where: { id }, data: { status: 'draining' } });
  }

  async delete(orgId: string, id: string): Promise<void> {
    const { count } = await this.prisma.worker.deleteMany({ where: { id, orgId } });
    if (count === 0) throw new NotFoundError('Worker', id);
  }

  authenticate(token: string): Promise<Worker | null> {
    return this.prisma.worker.findUnique({ where: { tokenHash: hashToken(token) } });
  }

  async register(worker: Worker, info: { labels: string[]; gpus: GpuInfo[]; hostname?: string | undefined }): Promise<Worker> {
    const labels = [...new Set([...worker.labels, ...info.labels])];
    const status = worker.status === 'draining' ? 'draining' : 'online';
    return this.prisma.worker.update({
      where: { id: worker.id },
      data: { labels, gpus: info.gpus as object[], hostname: info.hostname ?? null, status, lastHeartbeatAt: new Date() },
    });
  }

  /**
   * Atomically hands the oldest matching queued job to this worker: `FOR UPDATE SKIP LOCKED` lets any
   * number of gateways and workers claim at once without two of them getting the same job, and the new
   * lease's fencing token (job.lease_fence + 1) invalidates every report made under an older lease.
   */
  async claim(worker: Worker, leaseTtlMs: number): Promise<{ job: Job; fence: number } | null> {
    if (worker.status === 'draining') return null;
    const maxGpuGiB = Math.max(0, ...(worker.gpus as unknown as GpuInfo[]).map((g) => g.memoryMiB / 1024));
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Array<{ id: string; lease_fence: number }>>`
        SELECT id, lease_fence FROM jobs
        WHERE org_id = ${worker.orgId} AND status = 'queued' AND provider IN ('local', 'worker')
          AND COALESCE(requirements->'labels', '[]'::jsonb) <@ to_jsonb(${worker.labels}::text[])
          AND COALESCE((requirements->>'min_gpu_memory_gib')::numeric, 0) <= ${maxGpuGiB}
        ORDER BY created_at, id
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

  /** Throws stale_lease unless this worker holds the job's current lease. */
  async assertLease(worker: Worker, jobId: string, fence: number): Promise<Job> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, orgId: worker.orgId } });
    if (!job) throw new NotFoundError('Job', jobId);
    if (job.workerId !== worker.id || job.leaseFence !== fence || job.status !== 'running') {
      throw new DomainError('stale_lease', `This worker no longer holds job ${jobId} (lease ${fence}); stop working on it.`, { jobId, fence });
    }
    return job;
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

import { queueJobId, type JobQueueName, type QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import type { PrismaClient, ServiceInstanceRepository, WorkerRepository } from '@ct/persistence';
import type { ProviderRegistry } from '@ct/providers-core';
import type { QueueProducer } from '@ct/queue';

/** How long a service instance's presence may be stale and it still counts as alive. */
const ALIVE_WITHIN_MS = 6_000;

/**
 * Heartbeat monitor: workers whose heartbeats stopped go offline, and the jobs of their expired leases
 * are requeued (up to the job's limit) or failed with a reason that says so. Silence counts only while a
 * gateway could hear it: when no gateway was reachable (it was down, or the database was), workers get a
 * full timeout after the gateways came back before anything of theirs expires.
 */
export async function monitorWorkers(deps: { workers: WorkerRepository; instances: ServiceInstanceRepository; logger: Logger }, heartbeatTimeoutMs: number): Promise<void> {
  const since = await deps.instances.reachableSince('api-gateway', ALIVE_WITHIN_MS);
  if (since === null || Date.now() - since.getTime() < heartbeatTimeoutMs) {
    deps.logger.info({ gatewaysReachableSince: since?.toISOString() ?? null }, 'heartbeat monitor waiting: gateways were unreachable recently');
    return;
  }
  const offline = await deps.workers.markSilentWorkersOffline(heartbeatTimeoutMs);
  if (offline) deps.logger.warn({ count: offline }, 'workers went offline');
  for (const lease of await deps.workers.expiredLeases()) {
    const outcome = await deps.workers.handleLostLease(lease);
    deps.logger.warn({ jobId: lease.jobId, workerId: lease.workerId, fence: lease.fence, outcome }, 'lease expired');
  }
}

/**
 * Reconciler: a job that sits in a step's state with no progress for too long (a lost queue item, a crash
 * mid-step) gets its step enqueued again, under the step's own deterministic id: a re-drive while the
 * item still exists adds nothing, and two pollers re-driving at once make one item. A job whose step is
 * claimed by a live replica, or that waits behind a backlog, is not stuck and is left alone.
 */
export class Reconciler {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly producer: QueueProducer,
    private readonly providers: ProviderRegistry,
    private readonly logger: Logger,
  ) {}

  async run(stuckAfterMs: number): Promise<number> {
    return (await this.redriveSteps(stuckAfterMs)) + (await this.restartPolls()) + (await this.redriveEnds(stuckAfterMs)) + (await this.wakeWaiting(stuckAfterMs));
  }

  /**
   * Waiting jobs are woken when a slot frees (JobTracker); should that wake-up be lost, the first long-waiting
   * job of each provider gets its dispatch again, and its admission fills whatever slots are free.
   */
  private async wakeWaiting(stuckAfterMs: number): Promise<number> {
    const before = new Date(Date.now() - stuckAfterMs);
    const firsts = await this.prisma.job.findMany({ where: { status: 'waiting', admittedAt: null, updatedAt: { lt: before } }, distinct: ['provider'], orderBy: [{ provider: 'asc' }, { priority: 'desc' }, { createdAt: 'asc' }], select: { id: true, orgId: true } });
    let n = 0;
    for (const j of firsts) if ((await this.producer.redrive('dispatch', { v: 1, jobId: j.id, orgId: j.orgId }, queueJobId('dispatch', j.id, 'wake'))) === 'added') n++;
    return n;
  }

  /** Terminal jobs never finalized, deleted jobs never purged: their queue items were lost (Redis, a crash). */
  private async redriveEnds(stuckAfterMs: number): Promise<number> {
    const before = new Date(Date.now() - stuckAfterMs);
    const unfinalized = await this.prisma.job.findMany({
      where: { finalizedAt: null, status: { in: ['completed', 'failed', 'cancelled'] }, finishedAt: { lt: before } },
      select: { id: true, orgId: true },
      take: 100,
    });
    const unpurged = await this.prisma.job.findMany({ where: { deletedAt: { lt: before } }, select: { id: true, orgId: true, keepOutputs: true }, take: 100 });
    let n = 0;
    for (const j of unfinalized) {
      if ((await this.producer.redrive('finalize', { v: 1, jobId: j.id, orgId: j.orgId }, queueJobId('finalize', j.id))) === 'added') n++;
    }
    for (const j of unpurged) {
      if ((await this.producer.redrive('purge', { v: 1, jobId: j.id, orgId: j.orgId, keepOutputs: j.keepOutputs }, queueJobId('purge', j.id))) === 'added') n++;
    }
    if (n) this.logger.warn({ finalize: unfinalized.length, purge: unpurged.length }, 'lost finalize or purge steps re-driven');
    return n;
  }

  private async redriveSteps(stuckAfterMs: number): Promise<number> {
    const before = new Date(Date.now() - stuckAfterMs);
    const stuck = await this.prisma.job.findMany({
      where: { status: { in: ['pending', 'packaging', 'uploading'] }, updatedAt: { lt: before }, OR: [{ stepUntil: null }, { stepUntil: { lt: new Date() } }] },
      select: { id: true, orgId: true, status: true, rewrittenDataloader: true },
      take: 100,
    });
    const busy = new Map<JobQueueName, boolean>();
    let redriven = 0;
    for (const job of stuck) {
      const queue: 'package' | 'dispatch' = job.status === 'pending' || (job.status === 'packaging' && job.rewrittenDataloader === null) ? 'package' : 'dispatch';
      if (await this.isBusy(queue, busy)) continue;
      const payload: QueuePayload<typeof queue> = { v: 1, jobId: job.id, orgId: job.orgId };
      if ((await this.producer.redrive(queue, payload, queueJobId(queue, job.id))) === 'pending') continue;
      await this.prisma.job.updateMany({ where: { id: job.id, status: job.status }, data: { updatedAt: new Date() } });
      redriven++;
      this.logger.warn({ jobId: job.id, status: job.status, queue }, 'stuck job re-driven');
    }
    return redriven;
  }

  /** Provider-run jobs whose chain of polls was lost (Redis lost it, a crash): a new chain, one per silence. */
  private async restartPolls(): Promise<number> {
    const polled = this.providers.names((d) => d.capabilities.polled && !d.comingSoon);
    if (polled.length === 0) return 0;
    const candidates = await this.prisma.job.findMany({
      where: { provider: { in: polled }, status: { in: ['queued', 'running'] }, externalId: { not: null } },
      select: { id: true, orgId: true, provider: true, polledAt: true, updatedAt: true },
      orderBy: { polledAt: { sort: 'asc', nulls: 'first' } },
      take: 200,
    });
    let restarted = 0;
    for (const job of candidates) {
      const plugin = await this.providers.forOrg(job.orgId, job.provider);
      const last = (job.polledAt ?? job.updatedAt).getTime();
      if (!plugin.tracking || Date.now() - last < plugin.tracking.silentAfterMs) continue;
      const added = await this.producer.redrive('poll', { v: 1, jobId: job.id, orgId: job.orgId, n: 0, immediate: true }, queueJobId('poll', job.id, `r${last}`));
      if (added === 'added') {
        restarted++;
        this.logger.warn({ jobId: job.id, silentForMs: Date.now() - last }, 'lost chain of polls restarted');
      }
    }
    return restarted;
  }

  /** A step whose queue (or whose outbox rows) still holds work: jobs waiting behind it are not stuck. */
  private async isBusy(queue: JobQueueName, cache: Map<JobQueueName, boolean>): Promise<boolean> {
    if (!cache.has(queue)) {
      const unrelayed = await this.prisma.outboxMessage.count({ where: { kind: 'queue', target: queue, publishedAt: null } });
      cache.set(queue, unrelayed > 0 || (await this.producer.backlog(queue)) > 0);
    }
    return cache.get(queue) ?? false;
  }
}

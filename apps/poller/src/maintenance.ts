import { ACTIVE_STATUSES } from '@ct/job-domain';
import { enqueueInTx, WorkerRepository, type PrismaClient } from '@ct/persistence';
import type { Logger } from '@ct/logging';

/**
 * Heartbeat monitor: workers whose heartbeats stopped go offline, and the jobs of their expired leases
 * are requeued (up to the job's limit) or failed with a reason that says so.
 */
export async function monitorWorkers(workers: WorkerRepository, heartbeatTimeoutMs: number, logger: Logger): Promise<void> {
  const offline = await workers.markSilentWorkersOffline(heartbeatTimeoutMs);
  if (offline) logger.warn({ count: offline }, 'workers went offline');
  for (const lease of await workers.expiredLeases()) {
    const outcome = await workers.handleLostLease(lease);
    logger.warn({ jobId: lease.jobId, workerId: lease.workerId, fence: lease.fence, outcome }, 'lease expired');
  }
}

/**
 * Reconciler: a job that sits in a step's state with no progress for too long (a lost queue item, a crash
 * mid-step) gets its step enqueued again. Handlers are idempotent, so a needless re-drive is harmless, but
 * it is not free: a job that waits behind a backlog is not stuck, so a step whose queue (or whose outbox
 * rows) still holds work is left alone this round. `backlog` answers how many items a queue still holds.
 */
export async function reconcileStuckJobs(
  prisma: PrismaClient,
  stuckAfterMs: number,
  logger: Logger,
  pollSilentAfterMs = stuckAfterMs,
  backlog: (queue: 'package' | 'dispatch') => Promise<number> = async () => 0,
): Promise<number> {
  const before = new Date(Date.now() - stuckAfterMs);
  const stuck = await prisma.job.findMany({
    where: { status: { in: ['pending', 'packaging'] }, updatedAt: { lt: before } },
    select: { id: true, orgId: true, status: true, rewrittenDataloader: true },
    take: 100,
  });
  const busy = new Map<'package' | 'dispatch', boolean>();
  const isBusy = async (queue: 'package' | 'dispatch'): Promise<boolean> => {
    if (!busy.has(queue)) {
      const unrelayed = await prisma.outboxMessage.count({ where: { target: queue, publishedAt: null } });
      busy.set(queue, unrelayed > 0 || (await backlog(queue)) > 0);
    }
    return busy.get(queue) ?? false;
  };
  let redriven = 0;
  for (const job of stuck) {
    const queue = job.status === 'packaging' && job.rewrittenDataloader !== null ? 'dispatch' : 'package';
    if (await isBusy(queue)) continue;
    await prisma.$transaction(async (tx) => {
      await enqueueInTx(tx, queue, { v: 1, jobId: job.id, orgId: job.orgId }, `redrive-${Date.now()}`);
      // Touch the row so the next round does not re-drive it again at once.
      await tx.job.updateMany({ where: { id: job.id, status: { in: [...ACTIVE_STATUSES] } }, data: { updatedAt: new Date() } });
    });
    redriven++;
    logger.warn({ jobId: job.id, status: job.status, queue }, 'stuck job re-driven');
  }
  // Provider-run jobs whose chain of polls was lost (Redis outage, crash): start a new chain.
  const silent = await prisma.job.findMany({
    where: { provider: 'replicate', status: { in: ['queued', 'running'] }, externalId: { not: null }, updatedAt: { lt: new Date(Date.now() - pollSilentAfterMs) } },
    select: { id: true, orgId: true },
    take: 100,
  });
  for (const job of silent) {
    await prisma.$transaction(async (tx) => {
      await enqueueInTx(tx, 'poll', { v: 1, jobId: job.id, orgId: job.orgId, n: 0 }, `redrive-${Date.now()}`);
      await tx.job.updateMany({ where: { id: job.id }, data: { updatedAt: new Date() } });
    });
  }
  return redriven + silent.length;
}

/** Runs `fn` every `ms`, one run at a time, logging (not throwing) failures. */
export function every(ms: number, name: string, logger: Logger, fn: () => Promise<unknown>): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    fn()
      .catch((err: Error) => logger.warn({ err: err.message }, `${name} failed`))
      .finally(() => (running = false));
  }, ms);
  return () => clearInterval(timer);
}

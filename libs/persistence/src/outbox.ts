import { JOB_EVENTS_CHANNEL, queueJobId, type JobChangedEvent, type JobQueueName, type QueuePayload } from '@ct/contracts';
import type { Tx } from './prisma';
import { outboxWritten } from './outbox-signal';

/**
 * Follow-up work is written in the same transaction as the state change that causes it and relayed to
 * Redis afterwards (libs/queue OutboxRelay), so nothing is lost between Postgres and Redis.
 */
export async function enqueueInTx<Q extends JobQueueName>(tx: Tx, queue: Q, payload: QueuePayload<Q>, suffix?: string): Promise<void> {
  await tx.outboxMessage.create({
    data: { kind: 'queue', target: queue, dedupeKey: queueJobId(queue, payload.jobId, suffix), payload: payload as object },
  });
  outboxWritten(tx);
}

export async function publishInTx(tx: Tx, event: JobChangedEvent): Promise<void> {
  await tx.outboxMessage.create({
    data: { kind: 'event', target: JOB_EVENTS_CHANNEL, dedupeKey: `${event.jobId}-${event.status}`, payload: event },
  });
  outboxWritten(tx);
}

import { Queue, type JobsOptions } from 'bullmq';
import { QUEUE_PAYLOADS, type QueueName, type QueuePayload } from '@ct/contracts';
import type { Redis } from 'ioredis';

/** Short steps retry with exponential backoff; completed jobs are removed so a re-drive can enqueue again. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

export class QueueProducer {
  private readonly queues = new Map<QueueName, Queue>();
  constructor(private readonly connection: Redis, private readonly prefix = 'ct') {}

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Validates the payload against the queue's schema, then adds it under a deterministic job id. */
  async add<Q extends QueueName>(name: Q, payload: QueuePayload<Q>, jobId: string, opts: { delay?: number } = {}): Promise<void> {
    const parsed = QUEUE_PAYLOADS[name].parse(payload);
    await this.queue(name).add(name, parsed, { jobId, ...opts });
  }

  /**
   * Enqueues a step again under the same deterministic id. While an item with that id is still waiting,
   * delayed or running, nothing is added (it will do the work); a finished or failed one is removed first so
   * the step can run again. Two replicas re-driving the same job therefore still make one item.
   */
  async redrive<Q extends QueueName>(name: Q, payload: QueuePayload<Q>, jobId: string): Promise<'added' | 'pending'> {
    const q = this.queue(name);
    const existing = await q.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return 'pending';
      await existing.remove().catch(() => undefined);
    }
    await this.add(name, payload, jobId);
    return 'added';
  }

  /** Items of this queue not yet done: waiting, delayed, prioritized or being processed. */
  async backlog(name: QueueName): Promise<number> {
    const counts = await this.queue(name).getJobCounts('waiting', 'delayed', 'prioritized', 'active');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

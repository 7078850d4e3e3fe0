import { Counter, Gauge, Histogram, register, type Metric } from 'prom-client';
import type { QueueProducer } from './queue-producer';
import type { QueueName } from '@ct/contracts';

function once<M extends Metric>(name: string, make: () => M): M {
  return (register.getSingleMetric(name) as M | undefined) ?? make();
}

/** Per queue: items processed by outcome, and how long they waited before a consumer took them. */
export const stepMetrics = {
  outcomes: () => once('ct_queue_items_total', () => new Counter({ name: 'ct_queue_items_total', help: 'Queue items processed, by queue and outcome (ok, delayed, retry, failed)', labelNames: ['queue', 'outcome'] })),
  wait: () =>
    once('ct_queue_wait_seconds', () => new Histogram({ name: 'ct_queue_wait_seconds', help: 'Time from enqueue (or the end of its delay) to processing', labelNames: ['queue'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300] })),
};

/** Queue depth by state, read from Redis when Prometheus scrapes (a failed read leaves the gauge empty). */
export function registerQueueDepth(producer: QueueProducer, queues: readonly QueueName[]): void {
  if (register.getSingleMetric('ct_queue_depth')) return;
  new Gauge({
    name: 'ct_queue_depth',
    help: 'Items in each queue by state',
    labelNames: ['queue', 'state'],
    async collect() {
      this.reset();
      for (const q of queues) {
        const counts = await producer.queue(q).getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'failed').catch(() => null);
        for (const [state, n] of Object.entries(counts ?? {})) this.set({ queue: q, state }, n);
      }
    },
  });
}

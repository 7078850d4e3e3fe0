import { randomBytes } from 'node:crypto';
import { createRedis } from './connection';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { QueueProducer } from './queue-producer';

describe('MaintenanceScheduler on a real Redis', () => {
  it('registers each task once, and again as soon as a Redis that lost them is reconnected', async () => {
    const redis = createRedis('redis://127.0.0.1:6379', 'producer');
    const producer = new QueueProducer(redis, `ct-test-${randomBytes(4).toString('hex')}`);
    const scheduler = new MaintenanceScheduler(producer, { reconcile: 30_000, 'heartbeat-monitor': 2_000 }, redis);
    const names = async () => (await producer.queue('maintenance').getJobSchedulers()).map((s) => s.key).sort();
    try {
      await scheduler.onApplicationBootstrap();
      await scheduler.onApplicationBootstrap(); // a second replica: still one scheduler per task
      expect(await names()).toEqual(['heartbeat-monitor', 'reconcile']);
      // Redis restarted without its data: the schedulers are gone...
      await producer.queue('maintenance').obliterate({ force: true });
      expect(await names()).toEqual([]);
      // ...and are back once the connection is up again.
      redis.disconnect(true);
      const deadline = Date.now() + 10_000;
      while ((await names().catch(() => [])).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await names()).toEqual(['heartbeat-monitor', 'reconcile']);
    } finally {
      scheduler.onApplicationShutdown();
      await producer.queue('maintenance').obliterate({ force: true }).catch(() => undefined);
      await producer.close();
      redis.disconnect();
    }
  });
});

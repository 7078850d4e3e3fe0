import { randomBytes } from 'node:crypto';
import { createRedis } from './connection';
import { QueueProducer } from './queue-producer';

describe('QueueProducer.backlog', () => {
  it('counts waiting and delayed items, and nothing once they are gone', async () => {
    const connection = createRedis('redis://127.0.0.1:6379', 'producer');
    const producer = new QueueProducer(connection, `ct-test-${randomBytes(4).toString('hex')}`);
    try {
      expect(await producer.backlog('package')).toBe(0);
      await producer.add('package', { v: 1, jobId: 'a', orgId: 'o' }, 'package-a');
      await producer.add('package', { v: 1, jobId: 'b', orgId: 'o' }, 'package-b', { delay: 60_000 });
      await producer.add('package', { v: 1, jobId: 'a', orgId: 'o' }, 'package-a'); // same id: no second item
      expect(await producer.backlog('package')).toBe(2);
      expect(await producer.backlog('dispatch')).toBe(0);
      await producer.queue('package').obliterate({ force: true });
      expect(await producer.backlog('package')).toBe(0);
    } finally {
      await producer.close();
      connection.disconnect();
    }
  });
});

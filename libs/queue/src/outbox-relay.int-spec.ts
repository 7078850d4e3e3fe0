import { Queue } from 'bullmq';
import { createTestDatabase, makeOrg, newJobInput, TcpProxy } from '@ct/testing';
import { createPrismaClient, JobRepository, OutboxRepository, type PrismaClient } from '@ct/persistence';
import { createLogger } from '@ct/logging';
import { randomBytes } from 'node:crypto';
import { createRedis } from './connection';
import { QueueProducer } from './queue-producer';
import { OutboxRelay } from './outbox-relay';

describe('outbox relay across a Redis outage', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  const proxy = new TcpProxy('127.0.0.1', 6379);
  const prefix = `ct-test-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.stop();
    await prisma.$disconnect();
    await db.drop();
  });

  it('keeps work in Postgres while Redis is unreachable and delivers every item exactly once afterwards', async () => {
    const org = await makeOrg(prisma);
    const jobs = new JobRepository(prisma);
    const url = `redis://127.0.0.1:${proxy.port}`;
    const connection = createRedis(url, 'producer', { retryStrategy: () => 200 });
    const publisher = createRedis(url, 'producer', { retryStrategy: () => 200 });
    const producer = new QueueProducer(connection, prefix);
    const events = { publish: async (name: string, payload: unknown) => void (await publisher.publish(`${prefix}:${name}`, JSON.stringify(payload))) };
    const relay = new OutboxRelay(new OutboxRepository(prisma), producer, events, createLogger('test', 'silent'));

    await proxy.stop();
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await jobs.create(newJobInput(org.orgId))).job.id);
    await expect(relay.runOnce()).resolves.toBe(0);
    const outbox = new OutboxRepository(prisma);
    expect(await outbox.pendingCount()).toBe(10); // a package item and a job-changed event per job
    expect((await prisma.outboxMessage.findFirst({ where: { attempts: { gt: 0 } } }))?.lastError).toBeTruthy();

    await proxy.start();
    // The clients reconnect on their own schedule: relay until everything is through (or give up after ~10 s).
    let published = 0;
    for (let i = 0; i < 50 && published < 10; i++) {
      published += await relay.runOnce().catch(() => 0);
      if (published < 10) await new Promise((r) => setTimeout(r, 200));
    }
    expect(published).toBe(10);
    expect(await outbox.pendingCount()).toBe(0);
    // A second relay pass (or a reconciler re-drive) cannot duplicate: BullMQ job ids are deterministic.
    await producer.add('package', { v: 1, jobId: created[0]!, orgId: org.orgId }, `package-${created[0]}`);

    const direct = createRedis('redis://127.0.0.1:6379', 'worker');
    const q = new Queue('package', { connection: direct, prefix });
    const waiting = await q.getJobs(['waiting']);
    expect(waiting.map((j) => j.data.jobId).sort()).toEqual([...created].sort());
    await q.obliterate({ force: true });
    await q.close();
    await producer.close();
    for (const c of [connection, publisher, direct]) c.disconnect();
  }, 30_000);
});

import { Queue } from 'bullmq';
import { createTestDatabase, makeOrg, newJobInput, TcpProxy } from '@ct/testing';
import { createPrismaClient, enqueueInTx, JobRepository, onOutboxCommitted, OutboxRepository, type PrismaClient } from '@ct/persistence';
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

describe('outbox relay woken by commits', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  const prefix = `ct-test-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  it('signals a committed transaction that wrote outbox rows, not a rolled-back one nor one without', async () => {
    const org = await makeOrg(prisma);
    let signals = 0;
    const off = onOutboxCommitted(() => signals++);
    try {
      await prisma.$transaction(async (tx) => {
        await tx.organization.findUnique({ where: { id: org.orgId } });
      });
      expect(signals).toBe(0);
      const job = (await new JobRepository(prisma).create(newJobInput(org.orgId))).job;
      expect(signals).toBe(1);
      await expect(
        prisma.$transaction(async (tx) => {
          await enqueueInTx(tx, 'package', { v: 1, jobId: job.id, orgId: org.orgId }, 'rolled-back');
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(signals).toBe(1);
      expect(await prisma.outboxMessage.count({ where: { dedupeKey: { contains: 'rolled-back' } } })).toBe(0);
      await enqueueInTx(prisma, 'package', { v: 1, jobId: job.id, orgId: org.orgId }, 'on-its-own');
      expect(signals).toBe(2);
    } finally {
      off();
    }
  });

  it('publishes a commit at once when woken, though its poll is a minute away', async () => {
    const org = await makeOrg(prisma);
    const subscriber = createRedis('redis://127.0.0.1:6379', 'subscriber');
    const publisher = createRedis('redis://127.0.0.1:6379', 'producer');
    const connection = createRedis('redis://127.0.0.1:6379', 'producer');
    const arrivals = new Map<string, number>();
    await subscriber.subscribe(`${prefix}:job-events`);
    subscriber.on('message', (_c: string, m: string) => arrivals.set((JSON.parse(m) as { jobId: string }).jobId, Date.now()));
    const outbox = new OutboxRepository(prisma);
    let rounds = 0;
    const counting = { relayBatch: (...a: Parameters<OutboxRepository['relayBatch']>) => (rounds++, outbox.relayBatch(...a)) } as unknown as OutboxRepository;
    const events = { publish: async (name: string, payload: unknown) => void (await publisher.publish(`${prefix}:${name}`, JSON.stringify(payload))) };
    const relay = new OutboxRelay(counting, new QueueProducer(connection, prefix), events, createLogger('test', 'silent'), 60_000);
    relay.start();
    await new Promise((r) => setTimeout(r, 200)); // the first round (at start) is over; the next poll is in a minute
    const off = onOutboxCommitted(() => relay.wake());
    try {
      const jobs = new JobRepository(prisma);
      const committed = new Map<string, number>();
      const before = rounds;
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const { job } = await jobs.create(newJobInput(org.orgId));
          committed.set(job.id, Date.now());
        }),
      );
      const arrived = () => [...committed.keys()].filter((id) => arrivals.has(id)).length;
      for (let i = 0; i < 100 && arrived() < 40; i++) await new Promise((r) => setTimeout(r, 20));
      expect(arrived()).toBe(40);
      const lags = [...committed].map(([id, at]) => arrivals.get(id)! - at);
      expect(Math.max(...lags)).toBeLessThan(2_000); // a poll would have taken 60 s
      expect(await outbox.pendingCount()).toBe(0);
      expect(rounds - before).toBeGreaterThan(0);
    } finally {
      off();
      await relay.stop();
      await new Queue('package', { connection, prefix }).obliterate({ force: true });
      for (const c of [subscriber, publisher, connection]) c.disconnect();
    }
  }, 30_000);

  it('frees the batch of a relay that died mid-round at once, for the next relay', async () => {
    const org = await makeOrg(prisma);
    await new JobRepository(prisma).create(newJobInput(org.orgId));
    const outbox = new OutboxRepository(prisma);
    const pending = await outbox.pendingCount();
    expect(pending).toBeGreaterThan(0);
    // The first relay locks the batch and hangs in its first publish.
    const first = outbox.relayBatch(200, () => new Promise<void>((r) => setTimeout(r, 1_500)));
    const locker = async () => (await prisma.$queryRaw<Array<{ pid: number }>>`SELECT pid FROM pg_stat_activity WHERE query LIKE '%FOR UPDATE SKIP LOCKED%' AND state = 'idle in transaction'`)[0]?.pid;
    for (let i = 0; i < 50 && !(await locker()); i++) await new Promise((r) => setTimeout(r, 20));
    const seen: bigint[] = [];
    expect((await outbox.relayBatch(200, async (m) => void seen.push(m.id))).published).toBe(0); // locked: skipped
    // It dies (its connection ends): the rows are free as soon as its backend is gone, no lease to wait out.
    const pid = await locker();
    await prisma.$executeRaw`SELECT pg_terminate_backend(${pid}::int)`;
    const alive = async () => (await prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE pid = ${pid}::int`)[0]!.n;
    for (let i = 0; i < 250 && (await alive()) > 0n; i++) await new Promise((r) => setTimeout(r, 20));
    await expect(first).rejects.toThrow();
    expect((await outbox.relayBatch(200, async (m) => void seen.push(m.id))).published).toBe(pending);
    expect(await outbox.pendingCount()).toBe(0);
    expect(new Set(seen).size).toBe(pending);
  }, 15_000);
});

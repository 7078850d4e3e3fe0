import { randomBytes } from 'node:crypto';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { createLogger } from '@ct/logging';
import { createProviderRegistry } from '@ct/providers-catalog';
import { createRedis, QueueProducer, type Redis } from '@ct/queue';
import { createTestDatabase, makeOrg } from '@ct/testing';
import { Reconciler } from './maintenance';

describe('reconciler', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  let redis: Redis;
  let producer: QueueProducer;
  let orgId: string;
  const logger = createLogger('poller-test', 'silent');
  const reconciler = () => new Reconciler(prisma, producer, createProviderRegistry({ prisma, masterKey: 'k'.repeat(64), logger }), logger);

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url, 4);
    redis = createRedis('redis://127.0.0.1:6379', 'producer');
    producer = new QueueProducer(redis, `ct-test-${randomBytes(4).toString('hex')}`);
    ({ orgId } = await makeOrg(prisma));
  });
  afterEach(async () => {
    await producer.queue('package').obliterate({ force: true });
    await prisma.job.deleteMany({});
  });
  afterAll(async () => {
    await producer.close();
    redis.disconnect();
    await prisma.$disconnect();
    await db.drop();
  });

  async function stuckPendingJob(): Promise<string> {
    const job = await prisma.job.create({ data: { orgId, name: 'stuck', provider: 'worker', config: {}, dataloader: [], status: 'pending' } });
    await prisma.$executeRaw`UPDATE jobs SET updated_at = now() - interval '10 minutes' WHERE id = ${job.id}`;
    return job.id;
  }
  const queued = async () => (await producer.queue('package').getJobs(['waiting', 'delayed'])).map((j) => j.id);

  it('leaves a job alone while its step still has a backlog, and re-drives it once, under its own id, when the queue is idle', async () => {
    const jobId = await stuckPendingJob();
    // A queue with an item waiting (another job's): the job is behind a backlog, not lost.
    await producer.add('package', { v: 1, jobId: 'someone-else', orgId }, 'package-someone-else');
    expect(await reconciler().run(60_000)).toBe(0);
    await producer.queue('package').obliterate({ force: true });
    // An outbox row of that step not yet relayed to Redis: also backlog.
    const pendingRow = await prisma.outboxMessage.create({ data: { kind: 'queue', target: 'package', dedupeKey: 'package-someone-else', payload: {} } });
    expect(await reconciler().run(60_000)).toBe(0);
    await prisma.outboxMessage.update({ where: { id: pendingRow.id }, data: { publishedAt: new Date() } });
    // Nothing queued anywhere: the job's queue item was lost, so its step is enqueued again, once.
    expect(await reconciler().run(60_000)).toBe(1);
    expect(await queued()).toEqual([`package-${jobId}`]);
  });

  it('makes one item when two replicas re-drive the same job at once, and none while that item waits', async () => {
    const jobId = await stuckPendingJob();
    const [a, b] = await Promise.all([reconciler().run(60_000), reconciler().run(60_000)]);
    expect(a + b).toBeGreaterThanOrEqual(1);
    expect(await queued()).toEqual([`package-${jobId}`]);
    await prisma.$executeRaw`UPDATE jobs SET updated_at = now() - interval '10 minutes' WHERE id = ${jobId}`;
    // The item is still waiting: a later round adds nothing.
    expect(await reconciler().run(60_000)).toBe(0);
    expect(await queued()).toEqual([`package-${jobId}`]);
  });

  it('leaves a job alone while a live replica holds its step claim', async () => {
    const jobId = await stuckPendingJob();
    await prisma.job.update({ where: { id: jobId }, data: { stepOwner: 'packager:1', stepUntil: new Date(Date.now() + 60_000) } });
    await prisma.$executeRaw`UPDATE jobs SET updated_at = now() - interval '10 minutes' WHERE id = ${jobId}`;
    expect(await reconciler().run(60_000)).toBe(0);
    expect(await queued()).toEqual([]);
  });
});

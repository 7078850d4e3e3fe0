import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { createLogger } from '@ct/logging';
import { createTestDatabase, makeOrg } from '@ct/testing';
import { reconcileStuckJobs } from './maintenance';

describe('reconciler', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  let orgId: string;
  const logger = createLogger('poller-test', 'silent');

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url, 2);
    ({ orgId } = await makeOrg(prisma));
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  async function stuckPendingJob(): Promise<string> {
    const job = await prisma.job.create({ data: { orgId, name: 'stuck', provider: 'worker', config: {}, dataloader: [], status: 'pending' } });
    await prisma.$executeRaw`UPDATE jobs SET updated_at = now() - interval '10 minutes' WHERE id = ${job.id}`;
    return job.id;
  }
  const redrives = (jobId: string) => prisma.outboxMessage.count({ where: { target: 'package', dedupeKey: { startsWith: `package-${jobId}-redrive-` } } });

  it('leaves a job alone while its step still has a backlog, and re-drives it once the queue is idle', async () => {
    const jobId = await stuckPendingJob();
    // A queue with items waiting: the job is behind a backlog, not lost.
    expect(await reconcileStuckJobs(prisma, 60_000, logger, 60_000, async (q) => (q === 'package' ? 3 : 0))).toBe(0);
    expect(await redrives(jobId)).toBe(0);
    // An outbox row of that step not yet relayed to Redis: also backlog.
    const pendingRow = await prisma.outboxMessage.create({ data: { kind: 'queue', target: 'package', dedupeKey: 'package-someone-else', payload: {} } });
    expect(await reconcileStuckJobs(prisma, 60_000, logger, 60_000, async () => 0)).toBe(0);
    expect(await redrives(jobId)).toBe(0);
    await prisma.outboxMessage.update({ where: { id: pendingRow.id }, data: { publishedAt: new Date() } });
    // Nothing queued anywhere: the job's queue item was lost, so its step is enqueued again, once.
    expect(await reconcileStuckJobs(prisma, 60_000, logger, 60_000, async () => 0)).toBe(1);
    expect(await redrives(jobId)).toBe(1);
    expect(await reconcileStuckJobs(prisma, 60_000, logger, 60_000, async () => 0)).toBe(0);
  });
});

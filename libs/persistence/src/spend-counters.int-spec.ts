import { createTestDatabase, makeOrg, newJobInput } from '@ct/testing';
import { createPrismaClient, type PrismaClient } from './prisma';
import { JobRepository } from './job.repository';
import { JobTracker } from './job-tracker';
import { SpendRepository } from './spend.repository';

/** The ledger's counters (kept by a trigger on jobs) against the jobs themselves, through every kind of change. */
describe('spend counters', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  const counters = async (orgId: string) => {
    const rows = await prisma.spendCounter.findMany({ where: { orgId } });
    return { spent: rows.reduce((a, r) => a + r.spentMicros, 0n), reserved: rows.reduce((a, r) => a + r.reservedMicros, 0n) };
  };
  const fromJobs = async (orgId: string) => {
    const [r] = await prisma.$queryRaw<Array<{ spent: bigint | null; reserved: bigint | null }>>`
      SELECT sum(cost_micros)::bigint AS spent, sum(GREATEST(reserved_micros - cost_micros, 0))::bigint AS reserved FROM jobs WHERE org_id = ${orgId}`;
    return { spent: r?.spent ?? 0n, reserved: r?.reserved ?? 0n };
  };

  it('follow reservations, accrual past the reservation, release at the end and 30 concurrent submissions', async () => {
    const org = await makeOrg(prisma);
    const jobs = new JobRepository(prisma);
    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) => jobs.create(newJobInput(org.orgId, { provider: i % 2 ? 'replicate' : 'worker', spend: { estimateMicros: 1_000_000n } }))),
    );
    expect(await counters(org.orgId)).toEqual({ spent: 0n, reserved: 30_000_000n });
    const [a, b, c] = created.map((x) => x.job);
    // Accrual below the reservation moves spend from reserved to spent; past it, the total grows.
    await prisma.job.update({ where: { id: a!.id }, data: { costMicros: 400_000n } });
    await prisma.job.update({ where: { id: b!.id }, data: { costMicros: 1_500_000n } });
    expect(await counters(org.orgId)).toEqual({ spent: 1_900_000n, reserved: 28_600_000n });
    expect(await counters(org.orgId)).toEqual(await fromJobs(org.orgId));
    // The end releases what was held and not spent.
    const tracker = new JobTracker(prisma);
    await tracker.transition({ orgId: org.orgId, jobId: a!.id, to: 'cancelled', reason: 'test' });
    expect(await counters(org.orgId)).toEqual({ spent: 1_900_000n, reserved: 28_000_000n });
    // Several changes in one transaction count once each.
    await prisma.$transaction(async (tx) => {
      await tx.job.update({ where: { id: c!.id }, data: { costMicros: 100_000n } });
      await tx.job.update({ where: { id: c!.id }, data: { costMicros: 300_000n } });
    });
    expect(await counters(org.orgId)).toEqual(await fromJobs(org.orgId));
    // A deleted job gives back what it held, never what it spent.
    await prisma.job.delete({ where: { id: b!.id } });
    await prisma.job.delete({ where: { id: c!.id } });
    expect(await counters(org.orgId)).toEqual({ spent: 2_200_000n, reserved: 27_000_000n }); // 27.7 held before, 0.7 of it by c
  });

  it('give the status the same figures as the jobs of the window, per provider', async () => {
    const org = await makeOrg(prisma);
    const jobs = new JobRepository(prisma);
    const spend = new SpendRepository(prisma);
    await spend.replace(org.orgId, { timeZone: 'Asia/Kathmandu', limits: [{ provider: 'replicate', period: 'day', amountMicros: 50_000_000n, action: 'block' }, { provider: '*', period: 'month', amountMicros: 90_000_000n, action: 'warn' }], runtime: [] });
    for (let i = 0; i < 6; i++) await jobs.create(newJobInput(org.orgId, { provider: i < 4 ? 'replicate' : 'worker', spend: { estimateMicros: 2_000_000n } }));
    const { usage } = await spend.status(org.orgId);
    const byProvider = Object.fromEntries(usage.map((u) => [u.limit.provider, u.usedMicros]));
    expect(byProvider).toEqual({ replicate: 8_000_000n, '*': 12_000_000n });
  });
});

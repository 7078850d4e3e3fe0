import { createTestDatabase, makeOrg, newJobInput } from '@ct/testing';
import { createPrismaClient, type PrismaClient } from './prisma';
import { JobRepository } from './job.repository';
import { JobTracker } from './job-tracker';
import { periodWindow, SpendRepository, type LimitPeriod } from './spend.repository';

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

/** The ledger's counters (kept by a trigger on jobs) against the jobs themselves, through every kind of change. */
describe('spend counters', () => {

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

describe('limit windows in SQL', () => {

  it('are the windows periodWindow computes, across time zones and daylight-saving changes', async () => {
    const org = await makeOrg(prisma);
    const spend = new SpendRepository(prisma);
    const limits = (['day', 'week', 'month'] as const).map((period) => ({ provider: '*', period, amountMicros: 1n, action: 'warn' as const }));
    for (const timeZone of ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kathmandu', 'Australia/Lord_Howe']) {
      await spend.replace(org.orgId, { timeZone, limits, runtime: [] });
      for (const at of ['2026-03-29T12:00:00Z', '2026-11-01T05:30:00Z', '2026-12-31T23:59:59Z', '2027-01-04T00:00:00Z']) {
        const now = new Date(at);
        for (const u of (await spend.status(org.orgId, now)).usage) {
          const w = periodWindow(u.limit.period as LimitPeriod, timeZone, now);
          expect({ timeZone, at, period: u.limit.period, start: u.windowStart, end: u.windowEnd }).toEqual({ timeZone, at, period: u.limit.period, start: w.start, end: w.end });
        }
      }
    }
  });

  it('refuses a time zone Postgres does not know', async () => {
    const org = await makeOrg(prisma);
    await expect(new SpendRepository(prisma).replace(org.orgId, { timeZone: 'Mars/Olympus', limits: [], runtime: [] })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('admission under the organisation lock', () => {

  it('makes a second admission wait for the first one\'s commit and count its reservation', async () => {
    const org = await makeOrg(prisma);
    const spend = new SpendRepository(prisma);
    await spend.replace(org.orgId, { timeZone: 'UTC', limits: [{ provider: 'replicate', period: 'day', amountMicros: 1_500_000n, action: 'block' }], runtime: [] });
    const admit = (hold: Promise<void>, admitted: () => void = () => undefined) =>
      prisma.$transaction(async (tx) => {
        const job = await tx.job.create({ data: { orgId: org.orgId, name: 'j', provider: 'replicate', config: {}, dataloader: [], reservedMicros: 1_000_000n } });
        await spend.admitInTx(tx, { orgId: org.orgId, provider: 'replicate', estimateMicros: 1_000_000n });
        admitted();
        await hold;
        return job.id;
      });
    let release!: () => void;
    let firstAdmitted!: () => void;
    const admittedOnce = new Promise<void>((r) => (firstAdmitted = r));
    const first = admit(new Promise<void>((r) => (release = r)), firstAdmitted);
    // The first holds the lock (its admission is done, its commit waits); the second must queue behind it.
    await admittedOnce;
    const second = admit(Promise.resolve());
    const waiting = async () => (await prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)[0]!.n;
    for (let i = 0; i < 100 && (await waiting()) === 0n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await waiting()).toBe(1n);
    release();
    await expect(first).resolves.toEqual(expect.any(String));
    await expect(second).rejects.toMatchObject({ code: 'cost_limit_exceeded' });
    expect(await prisma.job.count({ where: { orgId: org.orgId } })).toBe(1);
  });
});

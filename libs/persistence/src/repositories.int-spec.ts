import { createTestDatabase, makeOrg, newJobInput } from '@ct/testing';
import { IllegalTransitionError } from '@ct/job-domain';
import { createPrismaClient, type PrismaClient } from './prisma';
import { JobRepository } from './job.repository';
import { JobTracker } from './job-tracker';
import { WorkerRepository } from './worker.repository';
import { WebhookDeliveryRepository } from './provider-settings.repository';

const SELF_HOSTED = ['local', 'worker'];

describe('repositories on real Postgres', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  let jobs: JobRepository;
  let tracker: JobTracker;
  let workers: WorkerRepository;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
    jobs = new JobRepository(prisma);
    tracker = new JobTracker(prisma);
    workers = new WorkerRepository(prisma);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  const queuedJob = async (orgId: string, extra = {}) => {
    const { job } = await jobs.create(newJobInput(orgId, extra));
    await tracker.transition({ orgId, jobId: job.id, to: 'packaging', reason: 'test' });
    await tracker.transition({ orgId, jobId: job.id, to: 'queued', reason: 'test' });
    return job;
  };

  it('creates a job with its first event and outbox rows in one transaction, scoped by organisation', async () => {
    const a = await makeOrg(prisma);
    const b = await makeOrg(prisma);
    const { job, created } = await jobs.create(newJobInput(a.orgId));
    expect(created).toBe(true);
    expect(await jobs.find(b.orgId, job.id)).toBeNull();
    expect((await jobs.events(a.orgId, job.id)).map((e) => e.toStatus)).toEqual(['pending']);
    const outbox = await prisma.outboxMessage.findMany({ where: { dedupeKey: `package-${job.id}` } });
    expect(outbox).toHaveLength(1);
  });

  it('returns the first job for a repeated idempotency key of the same caller, even under a race', async () => {
    const a = await makeOrg(prisma);
    const input = newJobInput(a.orgId, { createdByKeyId: a.keyId, idempotencyKey: 'k-1' });
    const results = await Promise.all([jobs.create(input), jobs.create(input), jobs.create(input)]);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const other = await jobs.create({ ...input, createdByKeyId: null });
    expect(other.job.id).not.toBe(results[0]!.job.id);
  });

  it('paginates by keyset without gaps or repeats and filters by status', async () => {
    const a = await makeOrg(prisma);
    for (let i = 0; i < 7; i++) await jobs.create(newJobInput(a.orgId, { name: `j${i}` }));
    const seen: string[] = [];
    let cursor: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await jobs.list(a.orgId, { limit: 3, cursor });
      seen.push(...page.jobs.map((j) => j.name));
      if (!page.next) break;
      cursor = page.next;
    }
    expect(seen.sort()).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6']);
    expect((await jobs.list(a.orgId, { limit: 50, status: 'running' })).jobs).toEqual([]);
  });

  it('refuses an illegal transition and lets exactly one of two racing transitions win', async () => {
    const a = await makeOrg(prisma);
    const { job } = await jobs.create(newJobInput(a.orgId));
    await expect(tracker.transition({ orgId: a.orgId, jobId: job.id, to: 'completed', reason: 'x' })).rejects.toBeInstanceOf(IllegalTransitionError);
    const outcomes = await Promise.allSettled([
      tracker.transition({ orgId: a.orgId, jobId: job.id, to: 'cancelled', reason: 'user', from: ['pending'] }),
      tracker.transition({ orgId: a.orgId, jobId: job.id, to: 'packaging', reason: 'packager', from: ['pending'] }),
    ]);
    const applied = outcomes.filter((o) => o.status === 'fulfilled' && o.value.applied);
    expect(applied).toHaveLength(1);
  });

  it('lets a provider\'s accrued cost only grow while running, and the billed cost settle it at the end', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId, { provider: 'replicate' });
    const report = (kind: 'progress' | 'completed', costMicros: string) =>
      tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'webhook', kind, costMicros, occurredAt: new Date().toISOString() });
    await report('progress', '100');
    await report('progress', '50'); // an older delivery applied late
    expect((await jobs.find(a.orgId, job.id))?.costMicros).toBe(100n);
    await report('progress', '150');
    expect((await jobs.find(a.orgId, job.id))?.costMicros).toBe(150n);
    await report('completed', '120'); // the billed seconds are the truth once the run ended
    expect(await jobs.find(a.orgId, job.id)).toMatchObject({ status: 'completed', costMicros: 120n });
  });

  it('records a webhook id once (a replay is refused), lists a job\'s newest deliveries first, and forgets one on request', async () => {
    const deliveries = new WebhookDeliveryRepository(prisma);
    const a = await makeOrg(prisma);
    const { job } = await jobs.create(newJobInput(a.orgId));
    const accept = (id: string) => deliveries.record({ provider: 'replicate', webhookId: id, orgId: a.orgId, jobId: job.id, accepted: true, reason: 'verified' });
    expect(await accept('msg_1')).toBe(true);
    expect(await accept('msg_1')).toBe(false);
    expect(await accept('msg_2')).toBe(true);
    const recent = await deliveries.recentAcceptedAt('replicate', job.id);
    expect(recent).toHaveLength(2);
    expect(recent[0]!.getTime()).toBeGreaterThanOrEqual(recent[1]!.getTime());
    await deliveries.forget('replicate', 'msg_1');
    expect(await accept('msg_1')).toBe(true); // the provider's retry of an unapplied delivery is processed
  });

  it('hands one job to exactly one of two workers claiming at once, and fences out the loser', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId);
    const w1 = (await workers.create(a.orgId, 'w1', [])).worker;
    const w2 = (await workers.create(a.orgId, 'w2', [])).worker;
    const claims = await Promise.all([workers.claim(w1, 30_000, SELF_HOSTED), workers.claim(w2, 30_000, SELF_HOSTED)]);
    const winners = claims.filter((c) => c !== null);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.job.id).toBe(job.id);
    const winner = claims[0] ? w1 : w2;
    const loser = claims[0] ? w2 : w1;
    const fence = winners[0]!.fence;
    await expect(workers.assertLease(winner, job.id, fence)).resolves.toBeTruthy();
    await expect(workers.assertLease(loser, job.id, fence)).rejects.toMatchObject({ code: 'stale_lease' });
    await expect(workers.assertLease(winner, job.id, fence - 1)).rejects.toMatchObject({ code: 'stale_lease' });
    const stale = await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'worker', fence: fence - 1, kind: 'completed', occurredAt: new Date().toISOString() });
    expect(stale.applied).toBe(false);
  });

  it('lets workers claim in queue order: higher priority first, then submission; a long wait ages a job ahead', async () => {
    const a = await makeOrg(prisma);
    const low = await queuedJob(a.orgId, { priority: 1 });
    const high = await queuedJob(a.orgId, { priority: 9 });
    const mid = await queuedJob(a.orgId, { priority: 5 });
    const old = await queuedJob(a.orgId, { priority: 2 });
    // Waited 2 hours: 2 + 12 aging steps of 10 minutes puts it ahead of everything fresh.
    await prisma.job.update({ where: { id: old.id }, data: { createdAt: new Date(Date.now() - 2 * 3_600_000) } });
    const w = (await workers.create(a.orgId, 'orderly', [])).worker;
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await workers.claim(w, 30_000, SELF_HOSTED))!.job.id);
    expect(order).toEqual([old.id, high.id, mid.id, low.id]);
  });

  it('only gives a job to a worker with its labels and enough GPU memory, both as the admin set them', async () => {
    const a = await makeOrg(prisma);
    await queuedJob(a.orgId, { requirements: { labels: ['a100'], min_gpu_memory_gib: 40 } });
    const small = (await workers.create(a.orgId, 'small', ['a100'], { gpuMemoryGib: 80 })).worker;
    await workers.register(small, { gpus: [{ name: 'A100', memoryMiB: 24_576 }] });
    const nolabel = (await workers.create(a.orgId, 'nolabel', [], { gpuMemoryGib: 80 })).worker;
    await workers.register(nolabel, { gpus: [{ name: 'A100', memoryMiB: 81_920 }] });
    // reports a big GPU, but the admin vouched for 24 GiB: the report cannot raise the limit
    const boastful = (await workers.create(a.orgId, 'boastful', ['a100'], { gpuMemoryGib: 24 })).worker;
    await workers.register(boastful, { gpus: [{ name: 'H100', memoryMiB: 81_920 }] });
    const big = (await workers.create(a.orgId, 'big', ['a100'], { gpuMemoryGib: 80 })).worker;
    await workers.register(big, { gpus: [{ name: 'A100', memoryMiB: 81_920 }] });
    const reload = (id: string) => prisma.worker.findUniqueOrThrow({ where: { id } });
    expect(await workers.claim(await reload(small.id), 1000, SELF_HOSTED)).toBeNull();
    expect(await workers.claim(await reload(nolabel.id), 1000, SELF_HOSTED)).toBeNull();
    expect(await workers.claim(await reload(boastful.id), 1000, SELF_HOSTED)).toBeNull();
    expect(await workers.claim(await reload(big.id), 1000, SELF_HOSTED)).not.toBeNull();
  });

  it('keeps labels the admin\'s: the local label is refused, and a worker cannot add labels at registration', async () => {
    const a = await makeOrg(prisma);
    await expect(workers.create(a.orgId, 'sneaky', ['local'])).rejects.toMatchObject({ code: 'validation_failed' });
    const w = (await workers.create(a.orgId, 'plain', ['cpu'])).worker;
    await expect(workers.update(a.orgId, w.id, { labels: ['cpu', 'local'] })).rejects.toMatchObject({ code: 'validation_failed' });
    const registered = await workers.register(w, { gpus: [] });
    expect(registered.labels).toEqual(['cpu']);
    await queuedJob(a.orgId, { provider: 'local', requirements: { labels: ['local'] } });
    expect(await workers.claim(registered, 1000, SELF_HOSTED)).toBeNull();
    const embedded = (await workers.create(a.orgId, 'embedded', ['local'], { allowLocal: true, gpuMemoryGib: 1e6 })).worker;
    expect((await workers.claim(embedded, 1000, SELF_HOSTED))?.job.provider).toBe('local');
  });

  it('a rotated token ends the lease of the job the worker holds: requeued under a new fence', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId);
    const w = (await workers.create(a.orgId, 'rotated', [])).worker;
    const claim = await workers.claim(w, 30_000, SELF_HOSTED);
    expect(claim?.job.id).toBe(job.id);
    const { requeued } = await workers.rotateToken(a.orgId, w.id);
    expect(requeued).toEqual([job.id]);
    const after = await jobs.get(a.orgId, job.id);
    expect(after).toMatchObject({ status: 'queued', workerId: null, requeueCount: 0 });
    expect(after.leaseFence).toBeGreaterThan(claim!.fence);
    await expect(workers.assertLease(w, job.id, claim!.fence)).rejects.toMatchObject({ code: 'stale_lease' });
  });

  it('a finished job shows its final progress even when the last progress report is applied after the end', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId);
    const w = (await workers.create(a.orgId, 'reorder', [])).worker;
    const { fence } = (await workers.claim(w, 30_000, SELF_HOSTED))!;
    const at = () => new Date().toISOString();
    await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'worker', fence, kind: 'progress', progress: { step: 87, totalSteps: 120 }, occurredAt: at() });
    // Reports are applied concurrently: the end overtakes the last progress report.
    expect((await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'worker', fence, kind: 'completed', exitCode: 0, occurredAt: at() })).applied).toBe(true);
    const late = await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'worker', fence, kind: 'progress', progress: { step: 120, totalSteps: 120 }, occurredAt: at() });
    expect(late.applied).toBe(true);
    // An older report arriving later still cannot lower it.
    await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'worker', fence, kind: 'progress', progress: { step: 60, totalSteps: 120 }, occurredAt: at() });
    expect((await jobs.get(a.orgId, job.id)).progress).toMatchObject({ step: 120, totalSteps: 120, percent: 100 });
  });

  it('a provider report for a job that already ended is answered, not an error, and its final progress counts', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId, { provider: 'replicate' });
    await tracker.transition({ orgId: a.orgId, jobId: job.id, to: 'cancelled', reason: 'cancelled by user' });
    const late = await tracker.applyReport({ v: 1, orgId: a.orgId, jobId: job.id, source: 'webhook', kind: 'completed', progress: { step: 100, totalSteps: 100 }, occurredAt: new Date().toISOString() });
    expect(late).toMatchObject({ applied: false, reason: 'already_ended' });
    const after = await jobs.get(a.orgId, job.id);
    expect(after.status).toBe('cancelled');
    expect(after.progress).toMatchObject({ step: 100 });
  });

  it('requeues the job of an expired lease once, then fails it with a reason that says so', async () => {
    const a = await makeOrg(prisma);
    const job = await queuedJob(a.orgId);
    const w = (await workers.create(a.orgId, 'flaky', [])).worker;
    for (const expected of ['requeued', 'failed'] as const) {
      const claim = await workers.claim(w, 1, SELF_HOSTED);
      expect(claim?.job.id).toBe(job.id);
      await new Promise((r) => setTimeout(r, 20));
      const expired = (await workers.expiredLeases()).filter((l) => l.jobId === job.id);
      expect(expired).toHaveLength(1);
      expect(await workers.handleLostLease(expired[0]!)).toBe(expected);
    }
    const final = await jobs.get(a.orgId, job.id);
    expect(final.status).toBe('failed');
    expect(final.error).toMatch(/stopped sending heartbeats; not requeued again/);
    expect((await jobs.events(a.orgId, job.id)).map((e) => e.toStatus)).toEqual(['pending', 'packaging', 'queued', 'running', 'queued', 'running', 'failed']);
  });
});

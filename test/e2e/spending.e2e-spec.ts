import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { eventually, makeOrg, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json } from './helpers';

jest.setTimeout(180_000);

interface Status {
  limits: Array<{ provider: string; period: string; action: string; amount_usd: number; spent_usd: number; reserved_usd: number; used_usd: number; used_fraction: number; state: string }>;
}

/**
 * Spending limits end to end: admission reserves each job's estimate atomically (50 submissions at once
 * against a block limit), a running job that carries spend past a block limit is stopped with the limit
 * named, a run past its maximum runtime is cancelled, and bad limits are refused.
 */
describe('spending limits', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  let prisma: PrismaClient;
  // Replicate runs need a package: every organisation here has a dataset folder of its own.
  const roots = mkdtempSync(join(tmpdir(), 'ct-spend-'));
  const SLUGS = ['spend-burst', 'spend-stop', 'runtime-cap', 'spend-input'];
  const dataloader = (slug: string) => [{ id: 'set', type: 'local', instance_data_dir: join(roots, slug, 'set') }];
  beforeAll(async () => {
    for (const slug of SLUGS) {
      mkdirSync(join(roots, slug, 'set'), { recursive: true });
      writeFileSync(join(roots, slug, 'set', 'a.jpg'), 'image bytes');
    }
    // Runs last a minute unless stopped: their accrual stays far below their reservations.
    sim = new ReplicateSimulator({ defaults: { queueMs: 100, durationMs: 60_000, logIntervalMs: 500 } });
    const { apiUrl } = await sim.start();
    t = await startTestStack({ ORG_DATASET_ROOTS: JSON.stringify(Object.fromEntries(SLUGS.map((slug) => [slug, [join(roots, slug)]]))), REPLICATE_API_BASE_URL: apiUrl, REPLICATE_POLL_MIN_MS: '300', REPLICATE_POLL_MAX_MS: '600', SPEND_GUARD_INTERVAL_MS: '300', COST_LIMIT_GRACE_MS: '1000' });
    prisma = createPrismaClient(t.databaseUrl, 2);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await t?.stop();
    await sim?.stop();
  });

  /** An organisation with its own Replicate token and no history (so estimates come from the default table). */
  const org = async (slug: string) => {
    const o = await makeOrg(prisma, slug, slug);
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', key: o.token, body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', key: o.token, body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
    return o;
  };
  const putLimits = (key: string, body: unknown) => t.api('/api/cloud/cost-limits', { method: 'PUT', key, body: JSON.stringify(body) });
  const post = (key: string, body: unknown) => t.api('/api/cloud/jobs', { method: 'POST', key, body: JSON.stringify(body) });
  const cancelAll = async (orgId: string, key: string) => {
    for (const j of await prisma.job.findMany({ where: { orgId, status: { notIn: ['completed', 'failed', 'cancelled'] } } })) await t.api(`/api/cloud/jobs/${j.id}/cancel`, { method: 'POST', key });
  };

  it('admits exactly as many of 50 concurrent submissions as the block limit has room for', async () => {
    const o = await org('spend-burst');
    const job = { provider: 'replicate', config: { max_train_steps: 20 }, dataloader_config: dataloader('spend-burst') };
    const est = await json<{ estimate: { cost_usd: number } }>(await t.api('/api/cloud/cost-estimate', { method: 'POST', key: o.token, body: JSON.stringify(job) }));
    const each = est.estimate.cost_usd;
    expect(each).toBeGreaterThan(0.1);
    const amount = Math.round(each * 5.5 * 1e6) / 1e6;
    expect((await putLimits(o.token, { limits: [{ provider: 'replicate', period: 'day', amount_usd: amount, action: 'block' }] })).status).toBe(200);

    const answers = await Promise.all(Array.from({ length: 50 }, () => post(o.token, job)));
    const codes = await Promise.all(answers.map(async (r) => (r.status === 202 ? 'admitted' : `${r.status} ${(await json(r)).code as string}`)));
    expect(codes.filter((c) => c === 'admitted')).toHaveLength(5);
    expect(codes.filter((c) => c === '422 cost_limit_exceeded')).toHaveLength(45);
    // Never more reserved (or spent) than the limit, and only the admitted jobs exist.
    const jobs = await prisma.job.findMany({ where: { orgId: o.orgId } });
    expect(jobs).toHaveLength(5);
    const held = jobs.reduce((a, j) => a + Number(j.reservedMicros > j.costMicros ? j.reservedMicros : j.costMicros), 0);
    expect(held).toBeLessThanOrEqual(amount * 1e6);
    const status = await json<Status>(await t.api('/api/cloud/cost-limit/status', { key: o.token }));
    expect(status.limits[0]).toMatchObject({ provider: 'replicate', period: 'day', action: 'block', amount_usd: amount, state: 'warning' });
    expect(status.limits[0]!.used_usd).toBeCloseTo(each * 5, 5);
    expect(status.limits[0]!.used_usd).toBeLessThanOrEqual(amount);
    // The answer of a refused one says what to do; the job view shows the ledger.
    const refused = answers.find((r) => r.status === 422) as Response;
    expect(refused).toBeDefined();
    const one = await getJob(t, jobs[0]!.id, o.token);
    expect(one.spending).toMatchObject({ estimated_usd: each, reserved_usd: each, settled_usd: null });
    await cancelAll(o.orgId, o.token);
    // A cancelled job releases its reservation: what it cost is what counts now.
    await eventually(async () => (await json<Status>(await t.api('/api/cloud/cost-limit/status', { key: o.token }))).limits[0]!.reserved_usd === 0, 30_000, 'reservations to be released');
  });

  it('stops a running job that carries spend past a block limit, naming the limit, after warning at 80 %', async () => {
    const o = await org('spend-stop');
    expect((await putLimits(o.token, { limits: [{ provider: 'replicate', period: 'day', amount_usd: 0.02, action: 'block' }] })).status).toBe(200);
    // No step count, so no estimate and nothing reserved: it is admitted, and 8 GPUs accrue $0.0078 a second.
    const res = await post(o.token, { provider: 'replicate', hardware_profile: 'l40s-x8', config: {}, dataloader_config: dataloader('spend-stop') });
    expect(res.status).toBe(202);
    const id = (await json(res)).id as string;
    const done = await eventually(async () => {
      const j = await getJob(t, id, o.token);
      return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : null;
    }, 60_000, 'the job to be stopped');
    expect([done.status, done.error]).toEqual(['cancelled', null]);
    const events = await json<{ events: Array<{ to_status: string; reason: string }> }>(await t.api(`/api/cloud/jobs/${id}/events`, { key: o.token }));
    expect(events.events.some((e) => /% of the daily limit for replicate of \$0\.02 used/.test(e.reason))).toBe(true);
    expect(events.events.find((e) => e.to_status === 'cancelled')?.reason).toMatch(/^cancelled: the daily limit for replicate of \$0\.02 was passed/);
    expect(done.spending.warnings.length).toBeGreaterThan(0);
    // The run is stopped at Replicate too, and the next submission is refused while the day's limit is passed.
    await eventually(async () => sim.predictions().find((p) => p.id === done.external_id)?.status === 'canceled', 30_000, 'the prediction to be canceled');
    const next = await post(o.token, { provider: 'replicate', config: {}, dataloader_config: dataloader('spend-stop') });
    expect(next.status).toBe(422);
    expect((await json(next)).code).toBe('cost_limit_exceeded');
  });

  it('cancels a run past its maximum runtime, per job or per provider', async () => {
    const o = await org('runtime-cap');
    const perJob = await post(o.token, { provider: 'replicate', config: {}, max_runtime_seconds: 2, dataloader_config: dataloader('runtime-cap') });
    expect(perJob.status).toBe(202);
    expect((await putLimits(o.token, { max_runtime: [{ provider: 'replicate', max_seconds: 3 }] })).status).toBe(200);
    const perProvider = await post(o.token, { provider: 'replicate', config: {}, dataloader_config: dataloader('runtime-cap') });
    for (const [res, max] of [[perJob, 2], [perProvider, 3]] as const) {
      const id = (await json(res.clone())).id as string;
      const done = await eventually(async () => {
        const j = await getJob(t, id, o.token);
        return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : null;
      }, 60_000, 'the run to be cut off');
      expect([done.status, done.error]).toEqual(['cancelled', null]);
      const events = await json<{ events: Array<{ to_status: string; reason: string }> }>(await t.api(`/api/cloud/jobs/${id}/events`, { key: o.token }));
      expect(events.events.find((e) => e.to_status === 'cancelled' && e.reason.startsWith('cancelled'))?.reason).toBe(`cancelled: ran past its maximum runtime of ${max} s`);
    }
  });

  it('refuses bad limits with stable codes and keeps the ones it had; reports spend by day and provider', async () => {
    const o = await org('spend-input');
    const good = { time_zone: 'Europe/Berlin', limits: [{ provider: '*', period: 'month', amount_usd: 100, action: 'warn' }] };
    expect((await putLimits(o.token, good)).status).toBe(200);
    const cases: Array<[unknown, number, string]> = [
      [{ limits: [{ period: 'day', amount_usd: -5, action: 'block' }] }, 400, 'validation_failed'],
      [{ limits: [{ period: 'day', amount_usd: 1e12, action: 'block' }] }, 400, 'validation_failed'],
      [{ limits: [{ period: 'fortnight', amount_usd: 5, action: 'block' }] }, 400, 'validation_failed'],
      [{ limits: [{ period: 'day', amount_usd: 5, action: 'shout' }] }, 400, 'validation_failed'],
      [{ limits: [{ provider: 'nope', period: 'day', amount_usd: 5, action: 'block' }] }, 400, 'provider_unknown'],
      [{ time_zone: 'Mars/Olympus', limits: [] }, 400, 'validation_failed'],
      [{ limits: [{ period: 'day', amount_usd: 5, action: 'block' }, { period: 'day', amount_usd: 6, action: 'warn' }] }, 400, 'validation_failed'],
      [{ max_runtime: [{ provider: 'replicate', max_seconds: 0 }] }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const res = await putLimits(o.token, body);
      expect([JSON.stringify(body), res.status, (await json(res)).code]).toEqual([JSON.stringify(body), status, code]);
    }
    const member = await prisma.apiKey.findFirstOrThrow({ where: { orgId: o.orgId } });
    await prisma.apiKey.update({ where: { id: member.id }, data: { role: 'member' } });
    expect((await putLimits(o.token, { limits: [] })).status).toBe(403);
    expect(await json(await t.api('/api/cloud/cost-limits', { key: o.token }))).toEqual({ ...good, max_runtime: [] });

    const metrics = await json<{ total_usd: number; by_provider: Array<{ provider: string }>; jobs_by_status: Record<string, number>; time_zone: string }>(await t.api('/api/cloud/metrics?days=30', { key: o.token }));
    expect(metrics).toMatchObject({ total_usd: 0, by_provider: [], jobs_by_status: {}, time_zone: 'Europe/Berlin' });
    expect((await t.api('/api/cloud/metrics?days=0', { key: o.token })).status).toBe(400);
  });
});

import { join } from 'node:path';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { eventually, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, makeDataset, submit } from './helpers';

jest.setTimeout(180_000);

/**
 * Priorities and concurrency limits that really gate dispatch, end to end: with a limit of 2, ten jobs never
 * have more than two holding a slot, all complete, and they start in priority order (then submission order);
 * a freed slot admits the next at once; a waiting job says why and where it stands.
 */
describe('scheduling', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  let prisma: PrismaClient;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 100, durationMs: 800, logIntervalMs: 200 } });
    const { apiUrl } = await sim.start();
    t = await startTestStack({ REPLICATE_API_BASE_URL: apiUrl, REPLICATE_POLL_MIN_MS: '150', REPLICATE_POLL_MAX_MS: '300' });
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
    prisma = createPrismaClient(t.databaseUrl, 2);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await t?.stop();
    await sim?.stop();
  });

  const HOLDING = ['uploading', 'queued', 'running'];

  it('never runs more than the limit, admits in priority order as slots free, and says why a job waits', async () => {
    const put = await t.api('/api/cloud/scheduling', { method: 'PUT', body: JSON.stringify({ default_priority: 5, concurrency: [{ provider: 'replicate', max_jobs: 2 }] }) });
    expect(put.status).toBe(200);
    const ds = makeDataset(t.datasetRoot, 'sched', join(t.datasetRoot, '..', 'outside-sched'));
    const body = (name: string, priority?: number) => ({ name, provider: 'replicate', config: { max_train_steps: 10 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds.dir }], ...(priority ? { priority } : {}) });

    // Sample the jobs holding a slot every 100 ms for the whole test.
    let maxHolding = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxHolding = Math.max(maxHolding, await prisma.job.count({ where: { status: { in: HOLDING } } }));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // Two long runs take both slots; eight more wait behind them.
    sim.script.setDefaults({ durationMs: 4_000 });
    const blockers = [await submit(t, body('blocker-1')), await submit(t, body('blocker-2'))];
    await eventually(async () => (await prisma.job.count({ where: { id: { in: blockers.map((b) => b.id as string) }, status: 'running' } })) === 2, 30_000, 'both blockers to run');
    sim.script.setDefaults({ durationMs: 800 });
    const priorities = [1, 5, 9, 5, 3, 9, 7, 1];
    const waiting: Array<Record<string, unknown>> = [];
    for (const [i, p] of priorities.entries()) waiting.push(await submit(t, body(`p${p}-${i}`, i === 1 ? undefined : p)));
    await eventually(async () => (await prisma.job.count({ where: { id: { in: waiting.map((w) => w.id as string) }, status: 'waiting' } })) === 8, 30_000, 'all eight to wait');
    const first = await getJob(t, waiting[2]!.id as string);
    expect(first).toMatchObject({ status: 'waiting', priority: 9 });
    expect(first.waiting_reason).toMatch(/2 of 2 replicate slots in use; next in line$/);
    expect((await getJob(t, waiting[7]!.id as string)).waiting_reason).toMatch(/; 7 ahead of you$/);
    const pos = await json(await t.api(`/api/queue/position/${waiting[2]!.id as string}`));
    expect(pos).toMatchObject({ status: 'waiting', position: 1, waiting: 8, slots_in_use: 2, slots: 2 });
    expect((await json(await t.api(`/api/queue/position/${waiting[7]!.id as string}`))).position).toBe(8);
    // A waiting job's priority can be raised: the last priority-1 job goes to the front.
    const raised = await t.api(`/api/cloud/jobs/${waiting[7]!.id as string}/priority`, { method: 'POST', body: JSON.stringify({ priority: 10 }) });
    expect(raised.status).toBe(200);
    expect((await json(await t.api(`/api/queue/position/${waiting[7]!.id as string}`))).position).toBe(1);

    const all = [...blockers, ...waiting].map((j) => j.id as string);
    await eventually(async () => (await prisma.job.count({ where: { id: { in: all }, status: 'completed' } })) === 10, 120_000, 'all ten to complete');
    sampling = false;
    await sampler;
    expect(maxHolding).toBeLessThanOrEqual(2);
    expect(maxHolding).toBe(2);

    const rows = await prisma.job.findMany({ where: { id: { in: waiting.map((w) => w.id as string) } }, select: { id: true, name: true, admittedAt: true, priority: true, createdAt: true } });
    // Two slots freed at once are filled in one admission pass, in queue order, at one timestamp: ties go by that order.
    const admittedOrder = rows
      .sort((a, b) => a.admittedAt!.getTime() - b.admittedAt!.getTime() || b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime())
      .map((r) => r.name);
    // Priority first (the raised job with 10, then 9, 9, 7, 5, 5, 3, 1), submission order among equals.
    expect(admittedOrder).toEqual(['p1-7', 'p9-2', 'p9-5', 'p7-6', 'p5-1', 'p5-3', 'p3-4', 'p1-0']);
    const events = await json<{ events: Array<{ to_status: string; reason: string }> }>(await t.api(`/api/cloud/jobs/${waiting[0]!.id as string}/events`));
    expect(events.events.some((e) => e.to_status === 'waiting' && e.reason.startsWith("waiting for a slot: your organisation's 2 of 2 replicate slots in use"))).toBe(true);
  });

  it('refuses bad scheduling input with stable codes', async () => {
    const bad = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect((await json(res)).code).toBe(code);
    };
    await bad(await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify({ provider: 'local', config: {}, priority: 11 }) }), 400, 'validation_failed');
    await bad(await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify({ provider: 'local', config: {}, priority: 0 }) }), 400, 'validation_failed');
    await bad(await t.api('/api/cloud/scheduling', { method: 'PUT', body: JSON.stringify({ concurrency: [{ provider: 'replicate', max_jobs: 0 }] }) }), 400, 'validation_failed');
    await bad(await t.api('/api/cloud/scheduling', { method: 'PUT', body: JSON.stringify({ concurrency: [{ provider: 'nope', max_jobs: 2 }] }) }), 400, 'provider_unknown');
    const done = await prisma.job.findFirstOrThrow({ where: { status: 'completed' } });
    await bad(await t.api(`/api/cloud/jobs/${done.id}/priority`, { method: 'POST', body: JSON.stringify({ priority: 3 }) }), 409, 'job_not_waiting');
    await bad(await t.api(`/api/cloud/jobs/${done.id}/priority`, { method: 'POST', body: JSON.stringify({ priority: 30 }) }), 400, 'validation_failed');
    await bad(await t.api('/api/queue/position/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
  });
});

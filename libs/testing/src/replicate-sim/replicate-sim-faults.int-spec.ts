import { existsSync } from 'node:fs';
import { ReplicateSimulator } from './replicate-simulator';
import { startSimHarness, statusOf as status, until, type SimHarness } from './replicate-sim.test-harness';

/**
 * Scripted faults seen through the REAL `replicate` client: its retry policy (429/5xx/network errors), the
 * duplicate-create trap, lost and retried webhooks; plus trainings and the /_sim control API.
 */
describe('ReplicateSimulator with the real replicate client: faults, trainings, control API', () => {
  let h: SimHarness;
  let sim: SimHarness['sim'];
  let replicate: SimHarness['replicate'];
  let hooks: SimHarness['hooks'];
  let hookStatuses: SimHarness['hookStatuses'];
  let hookUrl: string;
  let version: string;

  beforeAll(async () => {
    h = await startSimHarness();
    ({ sim, replicate, hooks, hookStatuses, hookUrl, version } = h);
  });

  afterAll(() => h.stop());

  afterEach(() => sim.script.clearFaults().keepWebhooks());

  it('shows the client retry policy: 429 retried for GET and POST (6 tries max, no backoff), 5xx only for GET', async () => {
    const p = await replicate.predictions.create({ version, input: { sim_duration_ms: 0 } });
    const route = `GET /v1/predictions/${p.id}`;
    const count = (): number => sim.requests().filter((r) => r.path === `/v1/predictions/${p.id}`).length;
    sim.script.throttleNext(5, route);
    expect((await replicate.predictions.get(p.id)).id).toBe(p.id);
    expect(count()).toBe(6);
    const throttled = sim.requests().filter((r) => r.fault === 'status').slice(-1)[0];
    expect(throttled?.status).toBe(429);

    sim.script.throttleNext(10, route);
    const t0 = Date.now();
    expect(status(await replicate.predictions.get(p.id).catch((e: unknown) => e))).toBe(429);
    expect(count()).toBe(12);
    expect(Date.now() - t0).toBeLessThan(1000); // Retry-After is ignored: the retries are back-to-back
    sim.script.clearFaults();

    sim.script.failNext(503, 2, route);
    expect((await replicate.predictions.get(p.id)).id).toBe(p.id);
    const before = sim.requestCounts()['POST /v1/predictions'] ?? 0;
    sim.script.throttleNext(2, 'create');
    await replicate.predictions.create({ version, input: { sim_duration_ms: 0 } });
    sim.script.failNext(500, 1, 'create');
    expect(status(await replicate.predictions.create({ version, input: {} }).catch((e: unknown) => e))).toBe(500);
    expect(sim.requestCounts()['POST /v1/predictions']).toBe(before + 4);
  });

  it('a dropped connection after a create makes the client re-send it: duplicate predictions', async () => {
    sim.script.dropConnectionOnNextCreate();
    const got = await replicate.predictions.create({ version, input: { tag: 'dup-1', sim_duration_ms: 0 } });
    const page = await replicate.predictions.list();
    const dups = page.results.filter((p) => (p.input as { tag?: string }).tag === 'dup-1');
    expect(dups).toHaveLength(2); // the orphan and the one the client got
    expect(dups.map((d) => d.id)).toContain(got.id);
    expect(sim.requests().filter((r) => r.fault === 'drop-after')).toHaveLength(1);

    sim.script.dropConnection({ count: 6 });
    const err = await replicate.predictions.create({ version, input: { tag: 'dup-2' } }).catch((e: unknown) => e);
    // the fetch's own network error from the 6th try (a TypeError from Node's realm), not an ApiError
    expect(err).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    expect(status(err)).toBeUndefined();
    expect(sim.predictions().filter((p) => (p.input as { tag?: string }).tag === 'dup-2')).toHaveLength(6);
  });

  it('loses webhooks on demand (all, or a seeded share) and retries failed deliveries with the same id', async () => {
    hooks.length = 0;
    sim.script.loseWebhooks(1);
    const lost = await replicate.predictions.create({ version, input: { sim_duration_ms: 0 }, webhook: hookUrl, webhook_events_filter: ['completed'] });
    await until(() => replicate.predictions.get(lost.id), (p) => p.status === 'succeeded');
    await sim.waitForWebhooks();
    expect(hooks).toHaveLength(0);
    expect(sim.webhookDeliveries().filter((d) => d.predictionId === lost.id).map((d) => d.outcome)).toEqual(['dropped']);

    sim.script.loseWebhooks(0.5, 7);
    const runs = await Promise.all([0, 1, 2, 3, 4, 5].map(() => replicate.predictions.create({ version, input: { sim_queue_ms: 0, sim_duration_ms: 0 }, webhook: hookUrl, webhook_events_filter: ['completed'] })));
    await until(async () => sim.predictions().filter((p) => runs.some((r) => r.id === p.id) && p.status !== 'succeeded').length, (n) => n === 0);
    await sim.waitForWebhooks();
    const outcomes = sim.webhookDeliveries().filter((d) => runs.some((r) => r.id === d.predictionId)).map((d) => d.outcome);
    expect(outcomes.filter((o) => o === 'dropped').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'delivered').length).toBe(hooks.length);
    sim.script.keepWebhooks();

    hooks.length = 0;
    hookStatuses.push(500);
    const retried = await replicate.predictions.create({ version, input: { sim_queue_ms: 0, sim_duration_ms: 0 }, webhook: hookUrl, webhook_events_filter: ['completed'] });
    await until(async () => hooks.length, (n) => n >= 2);
    await sim.waitForWebhooks();
    expect(hooks.map((h) => h.headers['webhook-id'])).toEqual([hooks[0]!.headers['webhook-id'], hooks[0]!.headers['webhook-id']]);
    expect(sim.webhookDeliveries().find((d) => d.predictionId === retried.id)).toMatchObject({ outcome: 'delivered', attempts: [{ responseStatus: 500 }, { responseStatus: 200 }] });
  });

  it('runs a training: destination checks, /predictions urls quirk on create, new version on success', async () => {
    const trainer = await replicate.models.get('ostris', 'flux-dev-lora-trainer');
    const vid = trainer.latest_version!.id;
    const noDest = await replicate.trainings.create('ostris', 'flux-dev-lora-trainer', vid, { destination: 'sim-user/lora', input: {} }).catch((e: unknown) => e);
    expect(status(noDest)).toBe(404);
    await replicate.models.create('sim-user', 'lora', { visibility: 'private', hardware: 'gpu-h100' });
    expect(status(await replicate.models.create('sim-user', 'lora', { visibility: 'private', hardware: 'gpu-h100' }).catch((e: unknown) => e))).toBe(409);
    const st = await replicate.trainings.create('simpletuner', 'advanced-trainer-h100', version.split(':')[1]!, { destination: 'sim-user/lora', input: {} }).catch((e: unknown) => e);
    expect(status(st)).toBe(400); // SimpleTuner's trainer is predict-only

    const t = await replicate.trainings.create('ostris', 'flux-dev-lora-trainer', vid, { destination: 'sim-user/lora', input: { steps: 10 } });
    expect(t.urls.get).toBe(`${sim.apiUrl}/predictions/${t.id}`);
    expect(t).not.toHaveProperty('metrics');
    const done = await until(() => replicate.trainings.get(t.id), (x) => x.status === 'succeeded');
    expect(done.urls.get).toBe(`${sim.apiUrl}/trainings/${t.id}`);
    const out = done.output as { version: string; weights: string };
    const dest = await replicate.models.get('sim-user', 'lora');
    expect(out.version).toBe(`sim-user/lora:${dest.latest_version!.id}`);
    expect((await replicate.trainings.list()).results.map((x) => x.id)).toContain(t.id);
    expect(status(await replicate.trainings.get(t.id.replace(/^./, (c) => (c === '0' ? '1' : '0'))).catch((e: unknown) => e))).toBe(404);
  });

  it('is scriptable and inspectable over the /_sim control API', async () => {
    const post = (path: string, body: unknown): Promise<Response> => fetch(`${sim.url}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/faults', { kind: 'status', status: 503, count: 1, route: 'GET /v1/account' })).status).toBe(201);
    const before = sim.requestCounts()['GET /v1/account'] ?? 0;
    await replicate.accounts.current();
    const counts = (await (await fetch(`${sim.url}/_sim/requests/counts`)).json()) as Record<string, number>;
    expect(counts['GET /v1/account']).toBe(before + 2);
    expect((await post('/faults', { kind: 'bogus' })).status).toBe(422);
    expect((await post('/defaults', { durationMs: 0, queueMs: 0 })).status).toBe(200);
    const p = await replicate.predictions.create({ version, input: {} });
    await until(() => replicate.predictions.get(p.id), (x) => x.status === 'succeeded');
    const listed = (await (await fetch(`${sim.url}/_sim/predictions`)).json()) as Array<{ id: string; owner: string }>;
    expect(listed.find((x) => x.id === p.id)?.owner).toBe('sim-user');
    const uploaded = await replicate.files.create(Buffer.from('x'));
    const files = (await (await fetch(`${sim.url}/_sim/files`)).json()) as { files: Array<{ id: string }>; rejected: unknown[] };
    expect(files.files.map((f) => f.id)).toContain(uploaded.id);
    await post('/defaults', { durationMs: 600, queueMs: 100 });

    const locked = new ReplicateSimulator({ adminToken: 'admin' });
    await locked.start();
    try {
      expect((await fetch(`${locked.url}/_sim/state`)).status).toBe(401);
      const ok = await fetch(`${locked.url}/_sim/state`, { headers: { 'x-sim-admin-token': 'admin' } });
      expect(((await ok.json()) as { token: string }).token).toBe('r8_sim_token');
    } finally {
      await locked.stop();
    }
    expect(existsSync((locked as unknown as { dataDir: string }).dataDir)).toBe(false);
  });
});

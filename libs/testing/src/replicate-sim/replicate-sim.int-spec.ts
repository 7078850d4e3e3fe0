import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, openAsBlob, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Replicate, { validateWebhook, type Prediction } from 'replicate';
import { H100, sleep, startSimHarness, statusOf as status, until, type SimHarness } from './replicate-sim.test-harness';
import type { JsonObject } from './replicate-sim.types';

/**
 * The simulator driven by the REAL `replicate` npm client (1.4.x): if these pass, the client cannot tell the
 * simulator from api.replicate.com for the calls our provider makes. Faults and trainings: the -faults spec.
 */
describe('ReplicateSimulator with the real replicate client: API surface', () => {
  let h: SimHarness;
  let sim: SimHarness['sim'];
  let replicate: SimHarness['replicate'];
  let other: SimHarness['other'];
  let hooks: SimHarness['hooks'];
  let hookUrl: string;
  let version: string;

  beforeAll(async () => {
    h = await startSimHarness();
    ({ sim, replicate, other, hooks, hookUrl, version } = h);
  });

  afterAll(() => h.stop());

  afterEach(() => sim.script.clearFaults().keepWebhooks());

  it('authenticates Bearer and legacy Token tokens and answers 401 problem+json otherwise', async () => {
    expect(await replicate.accounts.current()).toEqual({ type: 'user', username: 'sim-user', name: 'Simulated User', github_url: null });
    const legacy = await fetch(`${sim.apiUrl}/account`, { headers: { authorization: 'Token r8_other' } });
    expect(((await legacy.json()) as JsonObject).username).toBe('other-user');
    const bad = new Replicate({ auth: 'r8_nope', baseUrl: sim.apiUrl });
    const err = await bad.accounts.current().catch((e: unknown) => e);
    expect(status(err)).toBe(401);
    expect(String(err)).toContain('{"title":"Unauthenticated","detail":"You did not pass a valid authentication token","status":401}');
    const raw = await fetch(`${sim.apiUrl}/account`);
    expect(raw.headers.get('content-type')).toBe('application/problem+json');
    // Each request is recorded with the account it authenticated as (how benchmarks count calls per tenant).
    const accounts = sim.requests().filter((r) => r.path === '/v1/account').map((r) => [r.status, r.account]);
    expect(accounts).toEqual([[200, 'sim-user'], [200, 'other-user'], [401, null], [401, null]]);
  });

  it('uploads, lists, downloads and deletes files (content part, and the lenient `file` alias)', async () => {
    const bytes = Buffer.from('PK\u0003\u0004 fake zip bytes');
    const file = await replicate.files.create(new File([bytes], 'dataset.zip', { type: 'application/zip' }), { purpose: 'training' });
    expect(file).toMatchObject({
      name: 'dataset.zip', content_type: 'application/zip', size: bytes.length, metadata: { purpose: 'training' },
      checksums: { sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex') },
      urls: { get: `${sim.apiUrl}/files/${file.id}` },
    });
    expect(Date.parse(file.expires_at ?? '') - Date.parse(file.created_at)).toBe(24 * 3600 * 1000);
    expect((await replicate.files.get(file.id)).id).toBe(file.id);
    expect((await replicate.files.list()).results.map((f) => f.id)).toContain(file.id);
    const dl = await fetch(`${sim.apiUrl}/files/${file.id}/download`, { headers: { authorization: 'Bearer r8_main' } });
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(bytes);
    expect((await other.files.list()).results).toHaveLength(0); // another account sees nothing

    const form = new FormData();
    form.append('file', new Blob(['abc'], { type: 'application/x-tar' }), 'data.tar');
    form.append('metadata', '{"k":"v"}');
    const alias = await fetch(`${sim.apiUrl}/files`, { method: 'POST', body: form, headers: { authorization: 'Bearer r8_main' } });
    expect(alias.status).toBe(201);
    expect(await alias.json()).toMatchObject({ name: 'data.tar', content_type: 'application/x-tar', size: 3, metadata: { k: 'v' } });

    expect(await replicate.files.delete(file.id)).toBe(true);
    expect(status(await replicate.files.get(file.id).catch((e: unknown) => e))).toBe(404);
    expect(sim.uploadedFiles().find((f) => f.id === file.id)?.deletedAtMs).toEqual(expect.any(Number));
  });

  it('refuses an upload over 100 MB with 413 while streaming it, never holding it in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-big-'));
    const path = join(dir, 'big.zip');
    writeFileSync(path, '');
    truncateSync(path, 100_000_001); // sparse: costs no disk, and openAsBlob streams it
    const uploadsBefore = sim.requestCounts()['POST /v1/files'] ?? 0;
    try {
      const err = await replicate.files.create(await openAsBlob(path)).catch((e: unknown) => e);
      expect(status(err)).toBe(413);
      expect(String(err)).toContain('Files must be less than 100MB in size');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const [rejected] = sim.rejectedUploads();
    expect(rejected).toMatchObject({ reason: 'too-large' });
    expect(rejected!.bytesReceived).toBeGreaterThan(100_000_000);
    expect(rejected!.peakBufferedBytes).toBeLessThan(1_000_000);
    expect(sim.requestCounts()['POST /v1/files']).toBe(uploadsBefore + 1); // a 413 on POST is not retried by the client
    const dataDir = (sim as unknown as { dataDir: string }).dataDir;
    expect(readdirSync(dataDir).length).toBe(sim.uploadedFiles().filter((f) => f.deletedAtMs === null).length);
  });

  it('serves the seeded SimpleTuner models and their versions, newest first', async () => {
    for (const profile of ['h100', 'h100-x2', 'h100-x4', 'h100-x8', 'l40s', 'l40s-x2', 'l40s-x4', 'l40s-x8']) {
      const m = await replicate.models.get('simpletuner', `advanced-trainer-${profile}`);
      expect(m.latest_version?.id).toMatch(/^[0-9a-f]{64}$/);
    }
    const page = await replicate.models.versions.list('simpletuner', 'advanced-trainer-l40s');
    expect(page.results).toHaveLength(2);
    expect(Date.parse(page.results[0]!.created_at)).toBeGreaterThan(Date.parse(page.results[1]!.created_at));
    expect((await replicate.models.versions.get('simpletuner', 'advanced-trainer-l40s', page.results[1]!.id)).id).toBe(page.results[1]!.id);
    expect(status(await replicate.models.get('simpletuner', 'nope').catch((e: unknown) => e))).toBe(404);
  });

  it('runs a prediction to success with growing logs and signed webhooks for every event', async () => {
    hooks.length = 0;
    const created = await replicate.predictions.create({ version, input: { config_json: '{}', max_train_steps: 60, sim_duration_ms: 1000 }, webhook: hookUrl, webhook_events_filter: ['start', 'output', 'logs', 'completed'] });
    expect(created).toMatchObject({ status: 'starting', model: H100, logs: '', urls: { get: `${sim.apiUrl}/predictions/${created.id}` } });
    const lengths: number[] = [];
    const done = await until(() => replicate.predictions.get(created.id), (p: Prediction) => {
      if (p.status === 'processing') lengths.push(p.logs?.length ?? 0);
      return p.status === 'succeeded';
    });
    expect(done.status).toBe('succeeded');
    expect(new Set(lengths).size).toBeGreaterThanOrEqual(3);
    expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);
    expect(done.metrics?.predict_time).toBeGreaterThanOrEqual(0.99);
    expect(done.output).toBe(`${sim.url}/delivery/${created.id}/weights.tar`);
    expect((await fetch(String(done.output))).status).toBe(200);
    expect(done.logs).toContain('100%|██████████| 60/60');

    await sim.waitForWebhooks();
    const events = hooks.map((h) => (JSON.parse(h.body) as { status: string }).status);
    expect(events[0]).toBe('processing');
    expect(events[events.length - 1]).toBe('succeeded');
    expect(sim.webhookDeliveries().filter((d) => d.predictionId === created.id).map((d) => d.event)).toEqual(expect.arrayContaining(['start', 'logs', 'output', 'completed']));
    const { key } = await replicate.webhooks.default.secret.get();
    for (const h of hooks) {
      const id = String(h.headers['webhook-id']);
      const ts = String(h.headers['webhook-timestamp']);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(300);
      const mac = createHmac('sha256', Buffer.from(key.split('_').pop()!, 'base64')).update(`${id}.${ts}.${h.body}`).digest();
      const sigs = String(h.headers['webhook-signature']).split(' ').map((s) => Buffer.from(s.split(',')[1] ?? '', 'base64'));
      expect(sigs.some((s) => s.length === mac.length && timingSafeEqual(s, mac))).toBe(true);
      expect(await validateWebhook({ id, timestamp: ts, signature: String(h.headers['webhook-signature']), body: h.body, secret: key })).toBe(true);
      const req = new Request(hookUrl, { method: 'POST', headers: h.headers as Record<string, string>, body: h.body });
      expect(await validateWebhook(req, key)).toBe(true);
      expect(await validateWebhook({ id, timestamp: ts, signature: String(h.headers['webhook-signature']), body: h.body.replace('succeeded', 'failed') + ' ', secret: key })).toBe(false);
    }
  });

  it('fails with the scripted message, honours the events filter, and reports simulated time at speed', async () => {
    hooks.length = 0;
    const failed = await replicate.predictions.create({ version, input: { sim_fail_message: 'CUDA out of memory' }, webhook: hookUrl, webhook_events_filter: ['completed'] });
    const end = await until(() => replicate.predictions.get(failed.id), (p) => p.status === 'failed');
    expect(end).toMatchObject({ status: 'failed', error: 'CUDA out of memory', output: null });
    await sim.waitForWebhooks();
    expect(hooks.map((h) => (JSON.parse(h.body) as { status: string }).status)).toEqual(['failed']);

    sim.script.setSpeed(1000);
    try {
      const long = await replicate.predictions.create({ version, input: { sim_duration_ms: 600_000, sim_log_interval_ms: 60_000 } });
      const fin = await until(() => replicate.predictions.get(long.id), (p) => p.status === 'succeeded');
      expect(fin.metrics?.predict_time).toBeGreaterThanOrEqual(600);
      expect(fin.metrics?.predict_time).toBeLessThan(900); // timer lateness × 1000 is the only slack
    } finally {
      sim.script.setSpeed(1);
    }
  });

  it('paginates predictions with absolute next URLs through replicate.paginate', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await other.predictions.create({ version, input: { i, sim_queue_ms: 0, sim_duration_ms: 0 } })).id);
    const first = await other.predictions.list();
    expect(first.next?.startsWith(`${sim.apiUrl}/predictions?cursor=`)).toBe(true);
    const pages: string[][] = [];
    for await (const page of other.paginate(() => other.predictions.list())) pages.push(page.map((p) => p.id));
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...ids].reverse());
    const second = await other.request(first.next!, { method: 'GET' }).then((r) => r.json() as Promise<{ previous: string }>);
    const back = await other.request(second.previous, { method: 'GET' }).then((r) => r.json() as Promise<{ results: Array<{ id: string }> }>);
    expect(back.results.map((p) => p.id)).toEqual(pages[0]);
  });

  it('cancels a run while processing and while still starting', async () => {
    const running = await replicate.predictions.create({ version, input: { sim_duration_ms: 60_000 } });
    await until(() => replicate.predictions.get(running.id), (p) => p.status === 'processing');
    const canceled = await replicate.predictions.cancel(running.id);
    expect(canceled).toMatchObject({ status: 'canceled', completed_at: expect.any(String) });
    const queued = await replicate.predictions.create({ version, input: { sim_queue_ms: 60_000 } });
    const c2 = await replicate.predictions.cancel(queued.id);
    expect(c2.status).toBe('canceled');
    expect(c2.started_at).not.toBeNull();
    await sleep(250);
    const later = await replicate.predictions.get(running.id);
    expect(later.logs).toBe(canceled.logs);
    expect((await replicate.predictions.cancel(running.id)).status).toBe('canceled'); // terminal: unchanged
  });

});

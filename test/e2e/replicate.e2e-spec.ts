import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPrismaClient } from '@ct/persistence';
import { eventually, freePort, makeOrg, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { signWebhook } from '@ct/providers-replicate';
import { getJob, json, makeDataset, submit } from './helpers';

jest.setTimeout(180_000);

const SECOND_TOKEN = 'r8_second_account_token_0002';

describe('Replicate provider end to end: services as processes, the real client, the simulator over HTTP', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  let other: { token: string };
  let secondRoot: string;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 300, durationMs: 2_500, logIntervalMs: 250 }, tokens: ['r8_sim_default_token_0001', { token: SECOND_TOKEN, account: { username: 'second-user' } }] });
    const { apiUrl } = await sim.start();
    const port = await freePort();
    secondRoot = mkdtempSync(join(tmpdir(), 'ct-rep-second-'));
    t = await startTestStack({
      ORG_DATASET_ROOTS: JSON.stringify({ 'second-account': [secondRoot] }),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      REPLICATE_API_BASE_URL: apiUrl,
      REPLICATE_POLL_MIN_MS: '500',
      REPLICATE_POLL_MAX_MS: '1500',
      REPLICATE_POLL_WITH_WEBHOOKS_MS: '2000',
    });
    const put = await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) });
    expect(put.status).toBe(200);
    // These jobs' datasets go to Replicate: the organisation allows it (consent has its own e2e).
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
    const prisma = createPrismaClient(t.databaseUrl, 1);
    other = await makeOrg(prisma, 'No token org');
    await prisma.$disconnect();
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  const finished = (id: string, timeoutMs = 60_000) =>
    eventually(async () => {
      const j = await getJob(t, id);
      return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : null;
    }, timeoutMs, `job ${id} to finish`);

  const replicateJob = (dir: string, extra: Record<string, unknown> = {}) => ({
    provider: 'replicate',
    config: { max_train_steps: 100 },
    dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dir }],
    ...extra,
  });

  it('runs submitted → packaged → uploading → starting → processing → succeeded with logs, cost and clean-up', async () => {
    const ds = makeDataset(t.datasetRoot, 'rep-happy', join(t.datasetRoot, '..', 'outside-rep'));
    const job = await submit(t, replicateJob(ds.dir, { hardware_profile: 'l40s-x4' }));
    const done = await finished(job.id as string);
    expect(done.status).toBe('completed');
    const events = await json<{ events: Array<{ to_status: string; reason: string }> }>(await t.api(`/api/cloud/jobs/${job.id}/events`));
    const statuses = events.events.map((e) => e.to_status);
    for (const s of ['pending', 'packaging', 'uploading', 'queued', 'running', 'completed']) expect(statuses).toContain(s);
    // Cost: the billed seconds times the price of the job's own profile (l40s-x4 = 4 × $3.51/h, Replicate's published L40S rate).
    const pred = sim.predictions().find((p) => p.id === done.external_id);
    expect(pred).toBeTruthy();
    const logs = await json<{ logs: Array<{ line: string }> }>(await t.api(`/api/cloud/jobs/${job.id}/logs?limit=5000`));
    expect(logs.logs.length).toBeGreaterThan(0);
    const predictTime = (pred as unknown as { metrics?: { predict_time?: number } }).metrics?.predict_time ?? 0;
    expect(predictTime).toBeGreaterThan(1);
    expect(done.cost_usd).toBeCloseTo((predictTime * 4 * 3.51) / 3600, 5);
    // The archive went to the simulator, then was deleted, and the timeline says so.
    await eventually(async () => {
      const evs = await json<{ events: Array<{ reason: string }> }>(await t.api(`/api/cloud/jobs/${job.id}/events`));
      return evs.events.some((e) => e.reason.startsWith('uploaded archive deleted from Replicate'));
    }, 20_000, 'clean-up event');
    const uploads = sim.uploadedFiles();
    expect(uploads.length).toBeGreaterThan(0);
    expect(uploads.every((f) => f.deletedAtMs !== null)).toBe(true);
    // Webhooks reached us all along, so the safety-net poller never asked Replicate about this run:
    // the one GET is finalize settling the cost.
    const gets = sim.requests().filter((r) => r.method === 'GET' && r.path === `/v1/predictions/${done.external_id}`);
    expect(gets).toHaveLength(1);
    // Several deliveries were verified with one fetch of the signing secret (it is cached for 5 minutes).
    expect(sim.webhookDeliveries().filter((d) => d.outcome === 'delivered').length).toBeGreaterThan(2);
    expect(sim.requestCounts()['GET /v1/webhooks/default/secret']).toBe(1);
  });

  it('refuses a 120 MiB dataset before any upload', async () => {
    const dir = join(t.datasetRoot, 'too-big');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, `big${i}.jpg`), randomBytes(10 * 1024 * 1024));
    const before = sim.requestCounts()['POST /v1/files'] ?? 0;
    const job = await submit(t, replicateJob(dir));
    const done = await finished(job.id as string);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/120\.\d MiB.*at most 95\.4 MiB.*nothing was uploaded/);
    expect(sim.requestCounts()['POST /v1/files'] ?? 0).toBe(before);
  });

  it('refuses a forged webhook with 401 and records it; a replayed one changes nothing', async () => {
    const ds = makeDataset(t.datasetRoot, 'rep-hooks', join(t.datasetRoot, '..', 'outside-rep2'));
    const job = await submit(t, replicateJob(ds.dir));
    const done = await finished(job.id as string);
    const forged = await fetch(`${t.gatewayUrl}/api/webhooks/replicate?job=${job.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,' + randomBytes(32).toString('base64') },
      body: JSON.stringify({ id: done.external_id, status: 'failed', error: 'forged' }),
    });
    expect(forged.status).toBe(401);
    expect((await json(forged)).code).toBe('webhook_bad_signature');
    const prisma = createPrismaClient(t.databaseUrl, 1);
    const rejected = await prisma.webhookDelivery.findMany({ where: { accepted: false, jobId: job.id as string } });
    expect(rejected.some((r) => r.reason.includes('bad_signature'))).toBe(true);
    // Replay a real, signed delivery: it is answered but changes nothing.
    const delivered = sim.webhookDeliveries().filter((d) => d.predictionId === done.external_id && d.outcome === 'delivered');
    expect(delivered.length).toBeGreaterThan(0);
    const accepted = await prisma.webhookDelivery.count({ where: { accepted: true, jobId: job.id as string } });
    expect(accepted).toBeGreaterThan(0);
    // A correctly signed message whose webhook-id was already processed (captured and replayed): ignored.
    const replayedId = delivered[0]!.messageId;
    const body = JSON.stringify({ id: done.external_id, status: 'failed', error: 'replayed', logs: '' });
    const ts = String(Math.floor(Date.now() / 1000));
    const replay = await fetch(`${t.gatewayUrl}/api/webhooks/replicate?job=${job.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': replayedId, 'webhook-timestamp': ts, 'webhook-signature': signWebhook(sim.webhookSecret(), replayedId, ts, body) },
      body,
    });
    expect(replay.status).toBe(200);
    expect((await json(replay)).accepted).toBe(false);
    // The replay was refused before anything was enqueued: nothing can change later, so no wait is needed.
    const after = await getJob(t, job.id as string);
    expect(after.status).toBe('completed');
    expect(after.error).toBeNull();
    expect(await prisma.webhookDelivery.count({ where: { accepted: true, jobId: job.id as string } })).toBe(accepted);
    await prisma.$disconnect();
  });

  it('still finishes when every webhook is lost, through polling', async () => {
    sim.script.loseWebhooks(1);
    try {
      const ds = makeDataset(t.datasetRoot, 'rep-lost', join(t.datasetRoot, '..', 'outside-rep3'));
      const job = await submit(t, replicateJob(ds.dir));
      const done = await finished(job.id as string);
      expect(done.status).toBe('completed');
      expect(sim.webhookDeliveries().filter((d) => d.predictionId === done.external_id).every((d) => d.outcome === 'dropped')).toBe(true);
    } finally {
      sim.script.keepWebhooks();
    }
  });

  it('survives a storm of 429s and 5xx, and a dropped connection on create leaves one prediction', async () => {
    sim.script.throttleNext(8, '**', 1).failNext(503, 4, 'GET **').dropConnectionOnNextCreate();
    const ds = makeDataset(t.datasetRoot, 'rep-storm', join(t.datasetRoot, '..', 'outside-rep4'));
    const job = await submit(t, replicateJob(ds.dir));
    const done = await finished(job.id as string, 90_000);
    expect(done.status).toBe('completed');
    const mine = sim.predictions().filter((p) => JSON.stringify(p).includes(job.id as string) || p.id === done.external_id);
    expect(mine.filter((p) => p.status !== 'canceled')).toHaveLength(1);
  });

  it('cancelling mid-run ends cancelled with the cost of the time used; a provider failure ends failed with its text', async () => {
    sim.script.setDefaults({ durationMs: 30_000 });
    try {
      const ds = makeDataset(t.datasetRoot, 'rep-cancel', join(t.datasetRoot, '..', 'outside-rep5'));
      const job = await submit(t, replicateJob(ds.dir));
      await eventually(async () => (await getJob(t, job.id as string)).status === 'running', 30_000, 'running on Replicate');
      // While it runs, the job shows the cost accrued so far (Replicate reports predict_time only at the end).
      const accruing = await eventually(async () => {
        const j = await getJob(t, job.id as string);
        return j.status === 'running' && j.cost_usd > 0 ? j : null;
      }, 15_000, 'cost accrued while running');
      // It grows while the run goes on; cancel once it has run for over a second and a half (billed > 1 s below).
      await eventually(async () => {
        const cost = (await getJob(t, job.id as string)).cost_usd;
        return cost > accruing.cost_usd && cost >= (1.5 * 3.51) / 3600;
      }, 15_000, 'the accrued cost to grow');
      expect((await t.api(`/api/cloud/jobs/${job.id}/cancel`, { method: 'POST' })).status).toBe(200);
      const cancelled = await eventually(async () => {
        const j = await getJob(t, job.id as string);
        return j.status === 'cancelled' ? j : null;
      }, 20_000, 'job cancelled');
      const pred = await eventually(async () => {
        const p = sim.predictions().find((x) => x.id === cancelled.external_id) as { status?: string; metrics?: { predict_time?: number } } | undefined;
        return p?.status === 'canceled' ? p : null;
      }, 20_000, 'prediction cancelled on Replicate');
      // The cost of the time used: Replicate's billed seconds at the l40s price replace the accrual.
      const billed = pred.metrics?.predict_time ?? 0;
      expect(billed).toBeGreaterThan(1);
      await eventually(async () => Math.abs((await getJob(t, job.id as string)).cost_usd - (billed * 3.51) / 3600) < 1e-5, 20_000, 'billed cost settled');

      const failing = await submit(t, replicateJob(ds.dir));
      const running = await eventually(async () => {
        const j = await getJob(t, failing.id as string);
        return j.status === 'running' && j.external_id ? j : null;
      }, 30_000, 'second run');
      sim.script.finishRun(running.external_id, 'failed', 'CUDA out of memory: tried to allocate 20 GiB');
      const failed = await finished(failing.id as string);
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain('CUDA out of memory');
    } finally {
      sim.script.setDefaults({ durationMs: 2_500 });
    }
  });

  it('checks a token with Replicate before storing it, and every service uses a stored one at once', async () => {
    const prisma = createPrismaClient(t.databaseUrl, 1);
    const second = await makeOrg(prisma, 'Second account org', 'second-account');
    await prisma.$disconnect();
    const put = (token: string) => t.api('/api/cloud/providers/replicate/config', { method: 'PUT', key: second.token, body: JSON.stringify({ token, default_profile: 'l40s' }) });
    const bad = await put('r8_not_a_valid_token_at_all');
    expect(bad.status).toBe(422);
    expect((await json<{ code: string }>(bad)).code).toBe('provider_credentials_invalid');
    expect((await json<{ token_configured: boolean }>(await t.api('/api/cloud/providers/replicate/config', { key: second.token }))).token_configured).toBe(false);
    expect((await put(SECOND_TOKEN)).status).toBe(200);
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', key: second.token, body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
    // Submitted at once: the dispatcher and the poller must already use the new token (no cache to wait out).
    const ds = makeDataset(secondRoot, 'rep-second', join(secondRoot, '..', 'outside-rep6'));
    const job = await submit(t, replicateJob(ds.dir), second.token);
    const done = await eventually(async () => {
      const j = await getJob(t, job.id as string, second.token);
      return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : null;
    }, 60_000, 'the second account job to finish');
    expect(done.status).toBe('completed');
    expect(sim.requests().some((r) => r.account === 'second-user' && r.method === 'POST' && r.path === '/v1/predictions')).toBe(true);
  });

  it('keeps accepting webhooks after Replicate rotated the signing secret, and the finished job shows its final progress', async () => {
    sim.script.setDefaults({ durationMs: 6_000 });
    try {
      const ds = makeDataset(t.datasetRoot, 'rep-rotate', join(t.datasetRoot, '..', 'outside-rep7'));
      const job = await submit(t, replicateJob(ds.dir));
      const id = job.id as string;
      const prisma = createPrismaClient(t.databaseUrl, 1);
      await eventually(async () => (await prisma.webhookDelivery.count({ where: { jobId: id, accepted: true } })) > 0, 30_000, 'a first verified webhook');
      sim.rotateWebhookSecret();
      const rotatedAt = new Date();
      const done = await finished(id);
      expect(done.status).toBe('completed');
      expect(done.progress).toMatchObject({ step: 100, totalSteps: 100 });
      // The gateway fetched the new secret: deliveries signed with it were verified (a delivery refused within
      // the refetch interval, e.g. right after another test's forged one, is retried by Replicate).
      expect(await prisma.webhookDelivery.count({ where: { jobId: id, accepted: true, receivedAt: { gt: rotatedAt } } })).toBeGreaterThan(0);
      await prisma.$disconnect();
    } finally {
      sim.script.setDefaults({ durationMs: 2_500 });
    }
  });

  it('says REPLICATE_API_TOKEN not set, and how to set it, when an organisation has no token', async () => {
    const res = await t.api('/api/cloud/jobs', { method: 'POST', key: other.token, body: JSON.stringify({ provider: 'replicate', config: {} }) });
    expect(res.status).toBe(422);
    const body = await json<{ code: string; detail: string }>(res);
    expect(body.code).toBe('provider_not_configured');
    expect(body.detail).toMatch(/^REPLICATE_API_TOKEN not set.*PUT \/api\/cloud\/providers\/replicate\/config/);
    const providers = await json<{ providers: Array<{ name: string; configured: boolean; status?: string }> }>(await t.api('/api/cloud/providers', { key: other.token }));
    expect(providers.providers.find((p) => p.name === 'replicate')?.configured).toBe(false);
    expect(providers.providers.find((p) => p.name === 'simpletuner.io')?.status).toBe('coming soon');
    const cfg = await t.api('/api/cloud/providers/replicate/config');
    expect(JSON.stringify(await json(cfg))).not.toContain(sim.token);
  });
});


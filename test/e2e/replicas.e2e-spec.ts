import { join } from 'node:path';
import { createPrismaClient } from '@ct/persistence';
import { eventually, freePort, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { json, makeDataset } from './helpers';

jest.setTimeout(240_000);

const SERVICES = ['storage', 'api-gateway', 'packager', 'dispatcher', 'poller'] as const;
const MONITOR_MS = 1_000;

/** Reads one counter's total over every series of a Prometheus text page, filtered by a label. */
function counter(text: string, name: string, label: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Collects the job-changed events one gateway streams to an SSE client. */
function follow(url: string, key: string): { events: Array<{ job_id: string; status: string }>; stop: () => void } {
  const events: Array<{ job_id: string; status: string }> = [];
  const abort = new AbortController();
  void fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: abort.signal })
    .then(async (res) => {
      const reader = res.body!.getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (chunk.includes('event: job.changed')) events.push(JSON.parse(chunk.slice(chunk.indexOf('data: ') + 6)) as { job_id: string; status: string });
        }
      }
    })
    .catch(() => undefined);
  return { events, stop: () => abort.abort() };
}

describe('replicas: two of every service as processes give the same outcomes as one', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 300, durationMs: 2_000, logIntervalMs: 250 } });
    const { apiUrl } = await sim.start();
    const port = await freePort();
    t = await startTestStack(
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        REPLICATE_API_BASE_URL: apiUrl,
        REPLICATE_POLL_MIN_MS: '500',
        REPLICATE_POLL_MAX_MS: '1500',
        REPLICATE_POLL_WITH_WEBHOOKS_MS: '2000',
        MONITOR_INTERVAL_MS: String(MONITOR_MS),
        RECONCILE_INTERVAL_MS: '2000',
      },
      { replicas: Object.fromEntries(SERVICES.map((s) => [s, 2])) },
    );
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    // These jobs' datasets go to Replicate: the organisation allows it (consent has its own e2e).
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  it('runs every job once, creates one prediction per Replicate job, runs each maintenance interval once, and streams every change on both gateways', async () => {
    for (const s of SERVICES) expect(t.instances[s]).toHaveLength(2);
    const [g1, g2] = t.gatewayUrls as [string, string];
    await t.startWorker('replica-a', ['local'], [], { url: g1 });
    await t.startWorker('replica-b', ['local'], [], { url: g2 });
    const sse = [follow(g1, t.adminKey), follow(g2, t.adminKey)];
    const pollers = t.instances.poller!.map((p) => `http://127.0.0.1:${p.port}/metrics`);
    const runs = async () => (await Promise.all(pollers.map(async (u) => counter(await (await fetch(u)).text(), 'ct_maintenance_runs_total', 'task="heartbeat-monitor"')))).reduce((a, b) => a + b, 0);
    const runsBefore = await runs();
    const windowStart = Date.now();

    const ds = makeDataset(t.datasetRoot, 'replicas', join(t.datasetRoot, '..', 'outside-replicas'));
    const ids: Array<{ id: string; provider: string }> = [];
    for (let i = 0; i < 10; i++) {
      const provider = i % 3 === 0 ? 'replicate' : 'local';
      const gateway = i % 2 === 0 ? g1 : g2;
      const res = await fetch(`${gateway}/api/cloud/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ provider, config: { max_train_steps: 30 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds.dir }] }),
      });
      expect(res.status).toBe(202);
      ids.push({ id: (await json<{ id: string }>(res)).id, provider });
    }
    await eventually(async () => {
      const jobs = await Promise.all(ids.map(async ({ id }) => json<{ status: string }>(await t.api(`/api/cloud/jobs/${id}`))));
      return jobs.every((j) => j.status === 'completed');
    }, 150_000, 'every job to complete');
    const windowMs = Date.now() - windowStart;

    // Every job completed once, local jobs under one lease each.
    const prisma = createPrismaClient(t.databaseUrl, 1);
    for (const { id, provider } of ids) {
      const completions = await prisma.jobEvent.count({ where: { jobId: id, toStatus: 'completed', fromStatus: 'running' } });
      expect({ id, completions }).toEqual({ id, completions: 1 });
      if (provider === 'local') expect(await prisma.workerLease.count({ where: { jobId: id } })).toBe(1);
    }
    await prisma.$disconnect();
    // Provider creations equal jobs: one upload and one prediction per Replicate job.
    const replicateJobs = ids.filter((j) => j.provider === 'replicate').length;
    expect(sim.predictions()).toHaveLength(replicateJobs);
    expect(sim.uploadedFiles()).toHaveLength(replicateJobs);
    // Each maintenance interval ran once in the whole deployment, not once per replica.
    const ran = (await runs()) - runsBefore;
    expect(ran).toBeLessThanOrEqual(Math.ceil(windowMs / MONITOR_MS) + 2);
    expect(ran).toBeGreaterThanOrEqual(Math.floor((windowMs / MONITOR_MS) * 0.5));
    // SSE clients on either gateway saw every job's change to completed.
    await eventually(async () => sse.every((s) => ids.every(({ id }) => s.events.some((e) => e.job_id === id && e.status === 'completed'))), 10_000, 'both streams to show every completion');
    for (const s of sse) s.stop();
  });

  it('every service serves /metrics: requests per route, queues, jobs by status, provider calls, webhooks, bytes packaged and stored', async () => {
    const page = async (service: string) => (await Promise.all(t.instances[service]!.map(async (i) => (await fetch(`http://127.0.0.1:${i.port}/metrics`)).text()))).join('\n');
    const [storage, gateway, packager, dispatcher, poller] = await Promise.all(SERVICES.map(page)) as [string, string, string, string, string];
    for (const text of [gateway, storage, packager, dispatcher, poller]) expect(text).toContain('process_cpu_seconds_total');
    expect(counter(gateway, 'ct_http_request_duration_seconds_count', 'route="/api/cloud/jobs",status="202"')).toBeGreaterThan(0);
    expect(counter(gateway, 'ct_http_request_duration_seconds_count', 'route="/api/cloud/jobs/:id"')).toBeGreaterThan(0);
    expect(counter(gateway, 'ct_webhook_deliveries_total', 'outcome="accepted"')).toBeGreaterThan(0);
    expect(counter(storage, 'ct_storage_bytes_stored_total', 'bucket="outputs"')).toBeGreaterThan(0);
    expect(counter(packager, 'ct_packaged_bytes_total', 'kind="files"')).toBeGreaterThan(0);
    expect(counter(packager, 'ct_queue_items_total', 'queue="package",outcome="ok"')).toBeGreaterThan(0);
    expect(counter(dispatcher, 'ct_provider_calls_total', 'provider="replicate",operation="runJob",outcome="ok"')).toBeGreaterThan(0);
    expect(dispatcher).toMatch(/ct_queue_depth\{[^}]*queue="dispatch"/);
    expect(dispatcher).toMatch(/ct_queue_wait_seconds_count\{[^}]*queue="dispatch"/);
    expect(counter(poller, 'ct_jobs', 'status="completed"')).toBeGreaterThanOrEqual(10);
    expect(counter(poller, 'ct_provider_calls_total', 'provider="replicate",operation="finalize"')).toBeGreaterThan(0);
  });
});

import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { freePort, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { makeDataset, s3For } from '../e2e/helpers';
import { ownPostgres, ownRedis, until } from './fault-env';

/**
 * Jobs through the local worker and the Replicate simulator while each service, Redis and Postgres in
 * turn is killed with SIGKILL for a while and started again. Nothing may be lost, stuck, failed by the
 * fault, submitted twice to a provider, or finished without its outputs. `FAULTS_PROFILE=full` (npm run
 * test:faults): 40 jobs and outages of 5-15 s; the default (in npm test): 20 jobs, 5 s outages.
 */
const FULL = process.env.FAULTS_PROFILE === 'full';
const JOBS = Number(process.env.FAULTS_JOBS ?? (FULL ? 40 : 20));
const TARGETS = ['api-gateway', 'storage', 'packager', 'dispatcher', 'poller', 'redis', 'postgres'] as const;
type Target = (typeof TARGETS)[number];
jest.setTimeout(FULL ? 1_800_000 : 900_000);

/** Seeded, so a run can be repeated (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`faults (${FULL ? 'full' : 'short'}): ${JOBS} jobs while every service, Redis and Postgres is killed in turn`, () => {
  let pg: Awaited<ReturnType<typeof ownPostgres>>;
  let redis: Awaited<ReturnType<typeof ownRedis>>;
  let sim: ReplicateSimulator;
  let t: TestStack;
  let prisma: PrismaClient;
  const crashes: string[] = [];
  const killedByUs = new Set<number>();

  const watch = (name: string) => {
    for (const inst of t.instances[name] ?? []) {
      const p = inst.proc;
      p.once('exit', (code, signal) => {
        if (!killedByUs.has(p.pid ?? -1)) crashes.push(`${name} exited by itself (${signal ?? code})`);
      });
    }
  };

  beforeAll(async () => {
    pg = await ownPostgres();
    redis = await ownRedis();
    sim = new ReplicateSimulator({ defaults: { queueMs: 500, durationMs: 4_000, logIntervalMs: 500 } });
    const { apiUrl } = await sim.start();
    const port = await freePort();
    t = await startTestStack(
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        REPLICATE_API_BASE_URL: apiUrl,
        REPLICATE_POLL_MIN_MS: '1000',
        REPLICATE_POLL_MAX_MS: '3000',
        REPLICATE_POLL_WITH_WEBHOOKS_MS: '5000',
        RECONCILE_INTERVAL_MS: '2000',
        RECONCILE_STUCK_AFTER_MS: '15000',
        MONITOR_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      },
      { pgAdminUrl: pg.adminUrl, redisUrl: redis.url },
    );
    prisma = createPrismaClient(t.databaseUrl, 2);
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    // These jobs' datasets go to Replicate: the organisation allows it (consent has its own e2e).
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
    await t.startWorker('local', ['local']);
    for (const s of Object.keys(t.instances)) watch(s);
  });
  afterAll(async () => {
    await prisma?.$disconnect().catch(() => undefined);
    await t?.stop().catch(() => undefined);
    await sim?.stop();
    await redis?.stop();
    pg?.drop();
  });

  /** A client that keeps trying through outages, as the CLI does (same Idempotency-Key on every try). */
  async function persistently(path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      const res = await t.api(path, init).catch(() => null);
      if (res && res.status < 500) return res;
      if (Date.now() > deadline) throw new Error(`${path} kept failing (${res?.status ?? 'no answer'})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function kill(target: Target): Promise<void> {
    if (target === 'redis') return redis.kill();
    if (target === 'postgres') return pg.kill();
    const inst = t.instances[target]![0]!;
    killedByUs.add(inst.proc.pid ?? -1);
    const gone = new Promise((r) => inst.proc.once('exit', r));
    inst.proc.kill('SIGKILL');
    await gone;
  }

  async function restart(target: Target): Promise<void> {
    if (target === 'redis') return redis.start();
    if (target === 'postgres') return pg.start();
    await t.instances[target]![0]!.respawn();
    watch(target);
  }

  it('loses no job, fails none, submits none twice to a provider, and loses no finished training’s outputs', async () => {
    const random = rng(7);
    const ds = makeDataset(t.datasetRoot, 'faults', join(t.datasetRoot, '..', 'outside-faults'));
    const submitted: Array<{ id: string; provider: string }> = [];
    const outages: Array<{ target: Target; ms: number }> = TARGETS.map((target) => ({ target, ms: FULL ? 5_000 + Math.round(random() * 10_000) : 5_000 }));
    const plannedMs = outages.reduce((a, o) => a + o.ms + 6_000, 0);
    const started = Date.now();

    const submitter = (async () => {
      for (let i = 0; i < JOBS; i++) {
        const provider = i % 5 < 2 ? 'replicate' : 'local';
        const body = { name: `fault-${i}`, provider, config: { max_train_steps: 120, step_delay_ms: 20 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds.dir }] };
        const res = await persistently('/api/cloud/jobs', { method: 'POST', body: JSON.stringify(body), headers: { 'idempotency-key': `faults-${i}` } });
        expect(res.status).toBe(202);
        submitted.push({ id: ((await res.json()) as { id: string }).id, provider });
        await new Promise((r) => setTimeout(r, plannedMs / JOBS));
      }
    })();

    const inFlight: Record<string, number> = {};
    for (const { target, ms } of outages) {
      // Evidence that the fault hit work in progress: jobs not yet ended when it struck.
      inFlight[target] = await prisma.job.count({ where: { status: { in: ['pending', 'packaging', 'uploading', 'queued', 'running'] } } });
      await kill(target);
      await new Promise((r) => setTimeout(r, ms));
      await restart(target);
      await until(async () => (await t.api('/health/ready').catch(() => null))?.ok ?? false, 60_000, 'the gateway to be ready again');
      await new Promise((r) => setTimeout(r, 3_000));
    }
    await submitter;
    const faultsDoneAt = Date.now();

    // Everything ends, however long the recovery takes (bounded).
    const terminal = ['completed', 'failed', 'cancelled'];
    await until(async () => {
      const rows = await prisma.job.findMany({ where: { id: { in: submitted.map((s) => s.id) } }, select: { status: true } }).catch(() => null);
      return !!rows && rows.length === JOBS && rows.every((r) => terminal.includes(r.status));
    }, 5 * 60_000, 'every job to end').catch(() => undefined);

    const rows = await prisma.job.findMany({ where: { id: { in: submitted.map((s) => s.id) } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const replicateIds = submitted.filter((s) => s.provider === 'replicate').map((s) => s.id);
    const localIds = submitted.filter((s) => s.provider === 'local').map((s) => s.id);
    const predictionsOf = (id: string) => sim.predictions().filter((p) => JSON.stringify(p.webhook ?? '').includes(id)).length;
    const uploadsOf = (id: string) => sim.uploadedFiles().filter((f) => (f.metadata as { ct_job_id?: string } | null)?.ct_job_id === id);
    const s3 = await s3For(t);
    let outputsLost = 0;
    for (const id of localIds.filter((i) => byId.get(i)?.status === 'completed')) {
      const artifacts = await prisma.artifact.findMany({ where: { jobId: id, bucket: 'outputs' } });
      const readable = await Promise.all(artifacts.map((a) => s3.send(new GetObjectCommand({ Bucket: a.bucket, Key: a.key })).then(() => true, () => false)));
      if (artifacts.length === 0 || readable.some((r) => !r)) outputsLost++;
    }
    // Maintenance still runs after everything was killed once (a Redis restarted empty lost its schedulers).
    const monitorRuns = async () => {
      const text = await (await fetch(`http://127.0.0.1:${t.instances.poller![0]!.port}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('ct_maintenance_runs_total{') && l.includes('task="heartbeat-monitor"')).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    const runsBefore = await monitorRuns();
    await new Promise((r) => setTimeout(r, 3_500));
    const maintenanceRunsIn3s = (await monitorRuns()) - runsBefore;
    const leases = await prisma.workerLease.groupBy({ by: ['jobId'], where: { jobId: { in: localIds } }, _count: { _all: true } });
    const figures = {
      profile: FULL ? 'full' : 'short',
      jobs: JOBS,
      outages: outages.map((o) => `${o.target} ${o.ms / 1000} s, ${inFlight[o.target]} jobs in flight`),
      faultPhaseSeconds: Math.round((faultsDoneAt - started) / 1000),
      drainSeconds: Math.round((Date.now() - faultsDoneAt) / 1000),
      completed: rows.filter((r) => r.status === 'completed').length,
      failed: rows.filter((r) => r.status === 'failed').map((r) => `${r.id.slice(0, 8)} (${r.provider}): ${r.error}`),
      lostOrStuck: submitted.filter((s) => !terminal.includes(byId.get(s.id)?.status ?? '')).map((s) => `${s.id.slice(0, 8)} (${s.provider}) ${byId.get(s.id)?.status ?? 'missing'}`),
      duplicateProviderSubmissions: replicateIds.filter((id) => predictionsOf(id) > 1 || uploadsOf(id).length > 1).length,
      replicateUploadsLeftBehind: replicateIds.reduce((n, id) => n + uploadsOf(id).filter((f) => f.deletedAtMs === null).length, 0),
      localJobsRunTwice: leases.filter((l) => l._count._all > 1).length,
      finishedTrainingsWithOutputsLost: outputsLost,
      serviceCrashes: crashes,
      heartbeatMonitorRunsIn3sAfterFaults: maintenanceRunsIn3s,
    };
    process.stdout.write(`\nfault test figures: ${JSON.stringify(figures, null, 2)}\n`);
    expect(figures.lostOrStuck).toEqual([]);
    expect(figures.failed).toEqual([]);
    expect(figures.completed).toBe(JOBS);
    expect(figures.duplicateProviderSubmissions).toBe(0);
    expect(figures.finishedTrainingsWithOutputsLost).toBe(0);
    expect(figures.replicateUploadsLeftBehind).toBe(0);
    expect(figures.serviceCrashes).toEqual([]);
    expect(figures.heartbeatMonitorRunsIn3sAfterFaults).toBeGreaterThanOrEqual(2);
  });
});

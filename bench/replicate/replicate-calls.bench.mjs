// Replicate call-rate benchmark: how many calls does the system make to Replicate per minute while many
// Replicate jobs are active, with webhooks on and with webhooks off, beside the reference system's cost
// (SimpleTuner polls every active job every 30 s: 2 calls per job per minute).
//
// One run, both modes side by side: two organisations on one stack, each with its own Replicate account
// in the simulator (calls are counted per account). Organisation "webhooks" has webhooks on, and the
// simulator drops a random share of its deliveries; organisation "polling" has webhooks off. Every job
// stays `processing` through the measurement window; then every run is ended by the simulator (most
// succeed, some fail) and the benchmark checks that each job reaches the same terminal state here.
// It runs the COMPILED services and simulator: `npm run build` first.
//
//   node bench/replicate/replicate-calls.bench.mjs
//   BENCH_JOBS=50 BENCH_WINDOW_S=60 node bench/replicate/replicate-calls.bench.mjs     (a quick look)
//
// Knobs (environment):
//   BENCH_JOBS              active jobs per organisation (1000)
//   BENCH_WINDOW_S          measurement window once every job is processing (600)
//   BENCH_QUEUE_S           seconds a run stays `starting` on the simulator (20)
//   BENCH_LOG_INTERVAL_S    a run prints a progress line this often, which Replicate sends as a `logs` webhook (30)
//   BENCH_DROP              share of the webhooks organisation's deliveries the simulator drops, at random (0.3)
//   BENCH_FAIL_FRACTION     share of runs that end `failed` instead of `succeeded` (0.1)
//   BENCH_FINISH_SPREAD_S   runs end at random moments over this many seconds after the window (60)
//   BENCH_SETTLE_TIMEOUT_S  stop waiting for terminal states after this long (900)
//   BENCH_CONCURRENCY       in-flight submissions (16)
//   BENCH_QUIET_MS          REPLICATE_POLL_WITH_WEBHOOKS_MS for the services (unset: the services' default)
//   BENCH_PG_URL, BENCH_REDIS_URL (redis://127.0.0.1:6379/8, flushed at start), BENCH_LOG_LEVEL (info), BENCH_KEEP=1
// Output: a markdown table on stdout and everything in bench/out/replicate.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBetween, cpuSnapshot, createCleanups, createDatabase, dist, int, loadavg, machineInfo, makeSay, number, round, scanLogs, sleep, waitForFile } from '../bench-lib.mjs';

const require = createRequire(import.meta.url);
const thisDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(thisDir, '..', '..');
const stack = require(path.join(repoRoot, 'scripts/stack.cjs'));
const { Client } = require('pg');
const IORedis = require('ioredis');
const { ReplicateSimulator, makeOrg } = require(path.join(repoRoot, 'libs/testing/dist/index.js'));
const { createPrismaClient, migrate } = require(path.join(repoRoot, 'libs/persistence/dist/index.js'));

const JOBS = int('BENCH_JOBS', 1000);
const WINDOW_S = int('BENCH_WINDOW_S', 600);
const QUEUE_S = number('BENCH_QUEUE_S', 20);
const LOG_INTERVAL_S = number('BENCH_LOG_INTERVAL_S', 30);
const DROP = number('BENCH_DROP', 0.3);
const FAIL_FRACTION = number('BENCH_FAIL_FRACTION', 0.1);
const FINISH_SPREAD_S = int('BENCH_FINISH_SPREAD_S', 60);
const SETTLE_TIMEOUT_S = int('BENCH_SETTLE_TIMEOUT_S', 900);
const CONCURRENCY = int('BENCH_CONCURRENCY', 16);
const QUIET_MS = process.env.BENCH_QUIET_MS;
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/8';
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const KEEP = process.env.BENCH_KEEP === '1';
const REFERENCE_POLL_S = 30;
const TERMINAL = ['completed', 'failed', 'cancelled'];
const EXPECTED = { succeeded: 'completed', failed: 'failed', canceled: 'cancelled', aborted: 'failed' };
const FAIL_TEXT = 'CUDA out of memory (benchmark)';
const ORGS = [
  { key: 'webhooks', token: 'r8_bench_webhooks', username: 'bench-webhooks', webhooks: true },
  { key: 'polling', token: 'r8_bench_polling', username: 'bench-polling', webhooks: false },
];

const say = makeSay('replicate-bench');
const cleanups = createCleanups(say);

/** Requests of one account between two points of the simulator's log, grouped by route. */
function callsOf(records, username) {
  const byRoute = {};
  let total = 0;
  for (const r of records) {
    if (r.account !== username) continue;
    byRoute[r.route] = (byRoute[r.route] ?? 0) + 1;
    total++;
  }
  return { total, byRoute };
}

/** Calls per minute of one account in each whole minute of the window (shows whether the rate is steady). */
function perMinute(records, username, fromMs, minutes) {
  const buckets = Array.from({ length: minutes }, () => 0);
  for (const r of records) {
    if (r.account !== username) continue;
    const i = Math.floor((Date.parse(r.at) - fromMs) / 60_000);
    if (i >= 0 && i < minutes) buckets[i]++;
  }
  return buckets;
}

async function run() {
  // Redis: a logical database of the bench's own, emptied so no queue item of an earlier run is replayed.
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  await redis.flushdb();
  redis.disconnect();

  const db = await createDatabase({ pgUrl: PG_URL, keep: KEEP, cleanups, say });
  say(`database ${db.name}; applying migrations...`);
  await migrate(db.url);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'ct-bench-replicate-'));
  cleanups.push(async () => (KEEP ? say(`kept state dir ${stateDir}`) : rmSync(stateDir, { recursive: true, force: true })));
  const logDir = path.join(stateDir, 'logs');

  // A small dataset every job packages and uploads (the call count, not the bytes, is what is measured).
  const dataset = path.join(stateDir, 'datasets', 'portraits');
  mkdirSync(dataset, { recursive: true });
  for (let i = 0; i < 4; i++) {
    writeFileSync(path.join(dataset, `img${i}.jpg`), randomBytes(16 * 1024));
    writeFileSync(path.join(dataset, `img${i}.txt`), `a portrait, number ${i}`);
  }

  // Runs never end on their own (24 h): the benchmark ends them after the window.
  const sim = new ReplicateSimulator({
    tokens: ORGS.map((o) => ({ token: o.token, account: { username: o.username, name: `Bench ${o.key}` } })),
    defaults: { queueMs: QUEUE_S * 1000, durationMs: 24 * 3600_000, logIntervalMs: LOG_INTERVAL_S * 1000 },
  });
  const { apiUrl } = await sim.start();
  cleanups.push(() => sim.stop());
  if (DROP > 0) sim.script.loseWebhooks(DROP, 20261130);

  const port = await stack.freePort();
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    SIMPLETUNER_STATE_DIR: stateDir,
    STORAGE_DRIVER: 'fs',
    DATASET_ROOTS: path.join(stateDir, 'datasets'),
    // The bench's organisations are not the default one: name their dataset folder for them.
    ORG_DATASET_ROOTS: JSON.stringify(Object.fromEntries(ORGS.map((o) => [`bench-${o.key}`, [path.join(stateDir, 'datasets')]]))),
    LOG_LEVEL,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REPLICATE_API_BASE_URL: apiUrl,
    ...(QUIET_MS ? { REPLICATE_POLL_WITH_WEBHOOKS_MS: QUIET_MS } : {}),
  };
  say('starting the five services...');
  const services = await stack.startServices({ env, logDir, ports: 'random' });
  cleanups.push(() => services.stop());
  const exits = {};
  for (const [name, p] of Object.entries(services.procs)) p.on('exit', (code, signal) => (exits[name] = { code, signal, atMs: Date.now() }));
  await waitForFile(path.join(stateDir, 'cloud', 'admin-api-key'), 30_000); // the gateway has finished its first start

  // Two organisations, each with its own Replicate token stored in its provider settings.
  const prisma = createPrismaClient(db.url, 2);
  cleanups.push(() => prisma.$disconnect());
  for (const o of ORGS) {
    const org = await makeOrg(prisma, `Bench ${o.key}`, `bench-${o.key}`);
    o.orgId = org.orgId;
    o.headers = { authorization: `Bearer ${org.token}`, 'content-type': 'application/json' };
    const res = await fetch(`${services.gatewayUrl}/api/cloud/providers/replicate/config`, {
      method: 'PUT', headers: o.headers, body: JSON.stringify({ token: o.token, default_profile: 'l40s', webhooks_enabled: o.webhooks }),
    });
    if (res.status !== 200) throw new Error(`PUT replicate config for ${o.key}: ${res.status} ${await res.text()}`);
    // The benchmark measures provider calls, not people answering consent requests.
    const consent = await fetch(`${services.gatewayUrl}/api/cloud/data-consent/setting`, { method: 'PUT', headers: o.headers, body: JSON.stringify({ mode: 'allow' }) });
    if (consent.status !== 200) throw new Error(`PUT consent setting for ${o.key}: ${consent.status} ${await consent.text()}`);
  }
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanups.push(() => pg.end());

  // Submit: both organisations interleaved.
  say(`submitting ${JOBS} Replicate jobs for each of ${ORGS.length} organisations (concurrency ${CONCURRENCY})...`);
  const t0 = Date.now();
  const statusCounts = {};
  const errors = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        if (i >= JOBS * ORGS.length) return;
        const o = ORGS[i % ORGS.length];
        const body = JSON.stringify({
          name: `bench-${o.key}-${Math.floor(i / ORGS.length)}`, provider: 'replicate', hardware_profile: 'l40s',
          config: { max_train_steps: 2000 }, dataloader_config: [{ id: 'portraits', type: 'local', instance_data_dir: dataset }],
        });
        const res = await fetch(`${services.gatewayUrl}/api/cloud/jobs`, { method: 'POST', headers: o.headers, body });
        const text = await res.text();
        statusCounts[res.status] = (statusCounts[res.status] ?? 0) + 1;
        if (res.status !== 202 && errors.length < 10) errors.push({ status: res.status, body: text.slice(0, 300) });
      }
    }),
  );
  const submitSeconds = (Date.now() - t0) / 1000;
  say(`submitted in ${round(submitSeconds)} s: ${JSON.stringify(statusCounts)}`);
  if ((statusCounts[202] ?? 0) !== JOBS * ORGS.length) throw new Error(`not every submission was accepted: ${JSON.stringify(errors)}`);

  // Ramp: wait until every run is `processing` on the simulator.
  const rampDeadline = Date.now() + Math.max(1200, JOBS) * 1000;
  for (let reported = 0; ; ) {
    const runs = sim.predictions();
    const processing = runs.filter((r) => r.status === 'processing').length;
    if (processing === JOBS * ORGS.length) break;
    if (Date.now() > rampDeadline) throw new Error(`only ${processing} of ${JOBS * ORGS.length} runs processing after the ramp timeout`);
    if (Object.keys(exits).length) throw new Error(`a service exited: ${JSON.stringify(exits)}`);
    if (Date.now() - reported > 15_000) {
      reported = Date.now();
      const { rows } = await pg.query('SELECT status, count(*)::int AS n FROM jobs GROUP BY status ORDER BY status');
      say(`ramp: ${runs.length} runs created, ${processing} processing; jobs ${rows.map((r) => `${r.status} ${r.n}`).join(', ')}`);
    }
    await sleep(2000);
  }
  const rampSeconds = (Date.now() - t0) / 1000;
  say(`all ${JOBS * ORGS.length} runs processing after ${round(rampSeconds)} s; measuring for ${WINDOW_S} s...`);

  // Window: every job active; count what reaches the simulator, per account.
  const procs = () => services.procs;
  const startSeq = sim.requests().length;
  const startHooks = sim.webhookDeliveries().length;
  const cpu0 = await cpuSnapshot(procs(), pg);
  const w0 = Date.now();
  for (let s = 60; s <= WINDOW_S; s += 60) {
    await sleep(w0 + s * 1000 - Date.now());
    const recs = sim.requests().slice(startSeq);
    say(`window +${s} s: ${ORGS.map((o) => `${o.key} ${callsOf(recs, o.username).total} calls`).join(', ')}`);
  }
  await sleep(Math.max(0, w0 + WINDOW_S * 1000 - Date.now()));
  const w1 = Date.now();
  const cpu1 = await cpuSnapshot(procs(), pg);
  const windowRecords = sim.requests().slice(startSeq);
  const windowHooks = sim.webhookDeliveries().slice(startHooks);
  const stillProcessing = sim.predictions().filter((r) => r.status === 'processing').length;
  const windowMinutes = (w1 - w0) / 60_000;

  // Finish: each run ends at a random moment of the spread; most succeed, some fail.
  say(`ending every run over ${FINISH_SPREAD_S} s (${FAIL_FRACTION * 100}% fail)...`);
  const finishes = sim.predictions().map((r) => ({ id: r.id, at: Math.random() * FINISH_SPREAD_S * 1000, fail: Math.random() < FAIL_FRACTION }));
  const f0 = Date.now();
  for (const f of finishes.sort((a, b) => a.at - b.at)) {
    await sleep(f0 + f.at - Date.now());
    sim.script.finishRun(f.id, f.fail ? 'failed' : 'succeeded', FAIL_TEXT);
  }

  // Settle: every job must reach the run's terminal state (webhooks dropped at random included).
  const settleDeadline = Date.now() + SETTLE_TIMEOUT_S * 1000;
  let open = Infinity;
  while (Date.now() < settleDeadline) {
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM jobs WHERE status NOT IN ('completed','failed','cancelled')`);
    open = rows[0].n;
    if (open === 0) break;
    say(`settling: ${open} jobs not terminal yet`);
    await sleep(10_000);
  }
  // Let finalize (cost settlement, archive deletion) drain before the lifetime totals.
  await sleep(5_000);
  await sim.waitForWebhooks();

  const runsById = new Map(sim.predictions().map((r) => [r.id, r]));
  const { rows: jobs } = await pg.query(`SELECT id, org_id, status, error, external_id, cost_micros, extract(epoch FROM finished_at) * 1000 AS finished FROM jobs`);
  const allRecords = sim.requests();
  const perOrg = {};
  for (const o of ORGS) {
    const mine = jobs.filter((j) => j.org_id === o.orgId);
    const mismatched = [];
    const latencyS = [];
    for (const j of mine) {
      const runRec = runsById.get(j.external_id);
      const want = runRec ? EXPECTED[runRec.status] : undefined;
      if (!runRec || j.status !== want) {
        mismatched.push({ job: j.id, ours: j.status, replicate: runRec?.status ?? null });
        continue;
      }
      if (j.status === 'failed' && !String(j.error ?? '').includes(FAIL_TEXT)) mismatched.push({ job: j.id, ours: j.status, error: j.error });
      if (runRec.completed_at && j.finished !== null) latencyS.push((Number(j.finished) - Date.parse(runRec.completed_at)) / 1000);
    }
    const inWindow = callsOf(windowRecords, o.username);
    const lifetime = callsOf(allRecords, o.username);
    const hooks = windowHooks.filter((h) => runsById.get(h.predictionId)?.owner === o.username);
    perOrg[o.key] = {
      webhooks: o.webhooks,
      jobs: mine.length,
      window: {
        calls: inWindow.total,
        callsPerMinute: round(inWindow.total / windowMinutes, 1),
        byRoute: inWindow.byRoute,
        perMinuteBuckets: perMinute(windowRecords, o.username, w0, Math.floor(windowMinutes)),
        webhooksSent: hooks.length,
        webhooksDropped: hooks.filter((h) => h.outcome === 'dropped').length,
        webhooksDelivered: hooks.filter((h) => h.outcome === 'delivered').length,
        webhooksFailed: hooks.filter((h) => h.outcome === 'failed').length,
      },
      lifetime: { calls: lifetime.total, perJob: round(lifetime.total / mine.length, 2), byRoute: lifetime.byRoute },
      terminal: {
        matched: mine.length - mismatched.length,
        missed: mismatched.length,
        samples: mismatched.slice(0, 5),
        finalStatuses: mine.reduce((acc, j) => ({ ...acc, [j.status]: (acc[j.status] ?? 0) + 1 }), {}),
        detectionSeconds: dist(latencyS, 1),
      },
    };
  }
  const reference = { callsPerMinute: (JOBS * 60) / REFERENCE_POLL_S, note: `every active job polled every ${REFERENCE_POLL_S} s` };
  return {
    settings: { jobsPerOrg: JOBS, windowSeconds: WINDOW_S, queueSeconds: QUEUE_S, logIntervalSeconds: LOG_INTERVAL_S, dropFraction: DROP, failFraction: FAIL_FRACTION, finishSpreadSeconds: FINISH_SPREAD_S, quietMs: QUIET_MS ?? 'service default (300000)' },
    submit: { seconds: round(submitSeconds), statusCounts },
    rampSeconds: round(rampSeconds),
    window: { minutes: round(windowMinutes, 2), runsStillProcessingAtEnd: stillProcessing, cpu: cpuBetween(cpu0, cpu1) },
    reference,
    orgs: perOrg,
    ratioToReference: Object.fromEntries(ORGS.map((o) => [o.key, round(perOrg[o.key].window.callsPerMinute / reference.callsPerMinute, 4)])),
    settledWithinTimeout: open === 0,
    loadavg: loadavg(),
    processExits: exits,
    logs: scanLogs(logDir),
  };
}

function toMarkdown(r) {
  const w = r.orgs.webhooks;
  const p = r.orgs.polling;
  const lines = [];
  lines.push(`${r.settings.jobsPerOrg} active Replicate jobs per organisation, measured for ${r.window.minutes} min once all were processing (${r.window.runsStillProcessingAtEnd} still processing at the end); 1 run.`, '');
  lines.push('| | webhooks on (' + `${r.settings.dropFraction * 100}% dropped)` + ' | webhooks off | reference (poll every 30 s) |', '|---|---|---|---|');
  lines.push(`| provider calls per minute | ${w.window.callsPerMinute} | ${p.window.callsPerMinute} | ${r.reference.callsPerMinute} |`);
  lines.push(`| ratio to the reference | ${r.ratioToReference.webhooks} | ${r.ratioToReference.polling} | 1 |`);
  lines.push(`| calls in each whole minute | ${w.window.perMinuteBuckets.join(' ')} | ${p.window.perMinuteBuckets.join(' ')} | |`);
  lines.push(`| calls in the window by route | ${fmt(w.window.byRoute)} | ${fmt(p.window.byRoute)} | |`);
  lines.push(`| webhooks in the window: sent / dropped / delivered / failed | ${w.window.webhooksSent} / ${w.window.webhooksDropped} / ${w.window.webhooksDelivered} / ${w.window.webhooksFailed} | none asked for | |`);
  lines.push(`| terminal states matched / missed | ${w.terminal.matched} / ${w.terminal.missed} | ${p.terminal.matched} / ${p.terminal.missed} | |`);
  lines.push(`| final statuses | ${fmt(w.terminal.finalStatuses)} | ${fmt(p.terminal.finalStatuses)} | |`);
  const d = (x) => `${x.p50} / ${x.p95} / ${x.max} (n=${x.n})`;
  lines.push(`| run ended → job terminal here, s (p50 / p95 / max) | ${d(w.terminal.detectionSeconds)} | ${d(p.terminal.detectionSeconds)} | |`);
  lines.push(`| calls per job over its whole life | ${w.lifetime.perJob} | ${p.lifetime.perJob} | |`);
  lines.push(`| whole-life calls by route | ${fmt(w.lifetime.byRoute)} | ${fmt(p.lifetime.byRoute)} | |`);
  const c = r.window.cpu;
  lines.push('', `Submit ${r.submit.seconds} s, all runs processing after ${r.rampSeconds} s. CPU seconds in the window (${c.wallSeconds} s): ${Object.entries(c.cpuSeconds).map(([k, v]) => `${k} ${v}`).join(', ')}; machine busy ${c.machineBusyCores} cores.`);
  const noisy = Object.entries(r.logs).filter(([, x]) => x.warn + x.error + x.fatal > 0);
  for (const [svc, x] of noisy) lines.push(`- ${svc} log warn / error / fatal: ${x.warn} / ${x.error} / ${x.fatal}: ${x.messages.map((m) => `${m.n}x ${m.m.trim()}`).join('; ')}`);
  return lines.join('\n');
}

function fmt(obj) {
  return Object.entries(obj).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
}

async function main() {
  const report = { benchmark: 'replicate-calls', date: new Date().toISOString(), machine: machineInfo() };
  try {
    Object.assign(report, await run());
  } finally {
    say('stopping the stack and the simulator, dropping the database...');
    await cleanups.run();
  }
  const markdown = toMarkdown(report);
  console.log(markdown);
  const outDir = path.join(repoRoot, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'replicate.json'), `${JSON.stringify({ ...report, markdown }, null, 2)}\n`);
  say(`wrote ${path.relative(repoRoot, path.join(outDir, 'replicate.json'))}`);
  const missed = Object.values(report.orgs).reduce((s, o) => s + o.terminal.missed, 0);
  process.exitCode = missed > 0 || !report.settledWithinTimeout ? 1 : 0;
}

await main();

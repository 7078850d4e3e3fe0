// Submit benchmark: the whole stack (five services + worker agents, as processes) on a fresh database,
// N jobs submitted over HTTP, followed through the pipeline; plus raw BullMQ throughput on the same Redis.
// Plain Node ESM; it runs the COMPILED services, so build first (`npm run build`).
//
//   node bench/submit/submit.bench.mjs
//   BENCH_JOBS=100 BENCH_CONCURRENCY=8 BENCH_WORKERS=2 node bench/submit/submit.bench.mjs
//
// Knobs (environment):
//   BENCH_JOBS              jobs to submit (500)
//   BENCH_CONCURRENCY       in-flight submissions (16)
//   BENCH_WORKERS           worker agents running the instant fake trainer (1)
//   BENCH_COMPLETE_TIMEOUT_S  stop waiting for `completed` after this many seconds (300)
//   BENCH_BULLMQ_RUNS       runs of the raw BullMQ part, medians reported (3); 0 skips it
//   BENCH_BULLMQ_JOBS       jobs per raw BullMQ run (same as BENCH_JOBS)
//   BENCH_SKIP_STACK=1      only the raw BullMQ part
//   BENCH_PG_URL            server to create the throwaway database on (postgresql://postgres@127.0.0.1:5432/postgres)
//   BENCH_REDIS_URL         Redis for the stack and the raw part (redis://127.0.0.1:6379/7: its own logical db)
//   BENCH_LOG_LEVEL         LOG_LEVEL of the services (info, the default of `npm start`)
//   BENCH_KEEP=1            keep the state dir (service logs) and the database for inspection
// Output: a markdown table on stdout and everything (raw figures included) in bench/out/submit.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBetween, cpuSnapshot, createCleanups, createDatabase, dist, int, loadavg, machineInfo, makeSay, median, round, scanLogs, sleep, waitForFile } from '../bench-lib.mjs';

const require = createRequire(import.meta.url);
const thisDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(thisDir, '..', '..');
const stack = require(path.join(repoRoot, 'scripts/stack.cjs'));
const { Client } = require('pg');
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const N = int('BENCH_JOBS', 500);
const CONCURRENCY = int('BENCH_CONCURRENCY', 16);
const WORKERS = int('BENCH_WORKERS', 1);
const COMPLETE_TIMEOUT_MS = int('BENCH_COMPLETE_TIMEOUT_S', 300) * 1000;
const BULL_RUNS = int('BENCH_BULLMQ_RUNS', 3);
const BULL_JOBS = int('BENCH_BULLMQ_JOBS', N);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const KEEP = process.env.BENCH_KEEP === '1';
const POLL_MS = 200;
const DISPATCHED = ['queued', 'running', 'completed'];
const TERMINAL = ['completed', 'failed', 'cancelled'];

const say = makeSay('submit-bench');
const cleanups = createCleanups(say);
const cleanup = cleanups.run;

// ---------------------------------------------------------------------------------------------------
// Part 1: the stack.
async function runStack() {
  const db = await createDatabase({ pgUrl: PG_URL, keep: KEEP, cleanups, say });
  say(`database ${db.name}; applying migrations...`);
  const { migrate } = require(path.join(repoRoot, 'libs/persistence/dist/index.js'));
  await migrate(db.url);

  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'ct-bench-submit-'));
  cleanups.push(async () => (KEEP ? say(`kept state dir ${stateDir}`) : rmSync(stateDir, { recursive: true, force: true })));
  const logDir = path.join(stateDir, 'logs');
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    SIMPLETUNER_STATE_DIR: stateDir,
    STORAGE_DRIVER: 'fs',
    DATASET_ROOTS: stateDir,
    LOG_LEVEL,
  };
  say('starting the five services...');
  const bootStart = performance.now();
  const services = await stack.startServices({ env, logDir, ports: 'random' });
  cleanups.push(() => services.stop());
  const bootMs = performance.now() - bootStart;
  const exits = {};
  for (const [name, p] of Object.entries(services.procs)) p.on('exit', (code, signal) => (exits[name] = { code, signal, atMs: Date.now() }));

  const apiKey = await waitForFile(path.join(stateDir, 'cloud', 'admin-api-key'), 30_000);
  const trainerCmd = `"${process.execPath}" "${path.join(thisDir, 'instant-trainer.mjs')}"`;
  const workers = [];
  for (let i = 0; i < WORKERS; i++) {
    const name = i === 0 ? 'bench' : `bench-${i + 1}`;
    const tokenFile = await stack.ensureWorker({ databaseUrl: db.url, tokenFile: path.join(stateDir, 'cloud', `${name}-token`), name, labels: ['local'] });
    const w = stack.startWorker({
      url: services.gatewayUrl, tokenFile, name, labels: ['local'], workDir: path.join(stateDir, 'work', name), logDir,
      extraArgs: ['--trainer-cmd', trainerCmd], env: { LOG_LEVEL },
    });
    w.on('exit', (code, signal) => (exits[`worker-${name}`] = { code, signal, atMs: Date.now() }));
    workers.push(w);
  }
  cleanups.push(() => stack.stopAll(workers));

  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanups.push(() => pg.end());

  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  // Warm-up without creating jobs: the HTTP stack, auth and the database pool.
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${services.gatewayUrl}/api/cloud/jobs?limit=1`, { headers });
    await r.text();
    if (r.status !== 200) throw new Error(`warm-up GET /api/cloud/jobs answered ${r.status}`);
  }
  // Give the workers time to register and start long-polling.
  await sleep(1500);

  // Status polling (Postgres, cheap) runs alongside the submissions.
  const allProcs = () => ({ ...services.procs, ...Object.fromEntries(workers.map((w, i) => [`worker-${i + 1}`, w])) });
  const load = { before: loadavg() };
  // Idle baseline: what the stack burns with nothing to do (relay polling, heartbeats, claim long-polls).
  const cpuIdle = await cpuSnapshot(allProcs(), pg);
  await sleep(5000);
  const cpu0 = await cpuSnapshot(allProcs(), pg);
  const t0Wall = Date.now();
  const t0 = performance.now();
  const marks = { allSubmittedMs: null, allDispatchedPollMs: null, allTerminalPollMs: null };
  let lastCounts = {};
  let polling = true;
  const timeline = [];
  const poller = (async () => {
    while (polling) {
      const { rows } = await pg.query('SELECT status, count(*)::int AS n FROM jobs GROUP BY status');
      const counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      const at = performance.now() - t0;
      const dispatched = DISPATCHED.reduce((s, k) => s + (counts[k] ?? 0), 0);
      const terminal = TERMINAL.reduce((s, k) => s + (counts[k] ?? 0), 0);
      if (marks.allDispatchedPollMs === null && dispatched >= N) marks.allDispatchedPollMs = at;
      if (marks.allTerminalPollMs === null && terminal >= N) marks.allTerminalPollMs = at;
      if (JSON.stringify(counts) !== JSON.stringify(lastCounts) && timeline.length < 2000) timeline.push({ atMs: Math.round(at), ...counts });
      lastCounts = counts;
      await sleep(POLL_MS);
    }
  })();

  // Submissions: CONCURRENCY loops sharing one counter; Node's fetch is undici with keep-alive.
  say(`submitting ${N} jobs, concurrency ${CONCURRENCY}, ${WORKERS} worker agent(s)...`);
  const latencies = [];
  const statusCounts = {};
  const errors = [];
  let next = 0;
  const body = (i) => JSON.stringify({ name: `bench-${i}`, provider: 'local', config: { max_train_steps: 1 }, dataloader_config: [] });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const started = performance.now();
        try {
          const res = await fetch(`${services.gatewayUrl}/api/cloud/jobs`, { method: 'POST', headers, body: body(i) });
          const text = await res.text();
          latencies.push(performance.now() - started);
          statusCounts[res.status] = (statusCounts[res.status] ?? 0) + 1;
          if (res.status !== 202 && errors.length < 10) errors.push({ i, status: res.status, body: text.slice(0, 300) });
        } catch (err) {
          latencies.push(performance.now() - started);
          statusCounts.network = (statusCounts.network ?? 0) + 1;
          if (errors.length < 10) errors.push({ i, error: err.message });
        }
      }
    }),
  );
  marks.allSubmittedMs = performance.now() - t0;
  const cpu1 = await cpuSnapshot(allProcs(), pg);
  load.afterSubmit = loadavg();
  const accepted = statusCounts[202] ?? 0;
  say(`submitted in ${round(marks.allSubmittedMs / 1000, 2)} s (${accepted} answered 202)`);

  // Wait for dispatch, then for completion (bounded).
  const deadline = performance.now() + COMPLETE_TIMEOUT_MS;
  let reported = 0;
  while (marks.allTerminalPollMs === null && performance.now() < deadline && accepted > 0) {
    await sleep(500);
    if (performance.now() - reported > 15_000) {
      reported = performance.now();
      say(`t=${round((performance.now() - t0) / 1000)} s: ${JSON.stringify(lastCounts)}`);
    }
    if (Object.keys(exits).length > 0 && Object.values(exits).some((e) => e)) {
      say(`a process exited during the run: ${JSON.stringify(exits)}`);
      break;
    }
  }
  const waitedMs = performance.now() - t0;
  polling = false;
  await poller;
  const cpu2 = await cpuSnapshot(allProcs(), pg);
  load.end = loadavg();

  // Where the time went, from the database's own timestamps (events are written in each transition's transaction).
  const { rows: jobRows } = await pg.query(`
    SELECT j.id, j.status, j.error,
      extract(epoch FROM j.created_at) * 1000 AS created,
      (SELECT extract(epoch FROM min(e.created_at)) * 1000 FROM job_events e WHERE e.job_id = j.id AND e.to_status = 'packaging' AND e.from_status = 'pending') AS packaging,
      (SELECT extract(epoch FROM min(e.created_at)) * 1000 FROM job_events e WHERE e.job_id = j.id AND e.to_status = 'queued') AS queued,
      (SELECT extract(epoch FROM min(e.created_at)) * 1000 FROM job_events e WHERE e.job_id = j.id AND e.to_status = 'running') AS running,
      (SELECT extract(epoch FROM min(e.created_at)) * 1000 FROM job_events e WHERE e.job_id = j.id AND e.to_status IN ('completed','failed','cancelled')) AS ended
    FROM jobs j`);
  const num = (v) => (v === null ? null : Number(v));
  const jobs = jobRows.map((r) => ({ status: r.status, error: r.error, created: num(r.created), packaging: num(r.packaging), queued: num(r.queued), running: num(r.running), ended: num(r.ended) }));
  const span = (a, b) => jobs.filter((j) => j[a] !== null && j[b] !== null).map((j) => j[b] - j[a]);
  const maxOf = (k) => Math.max(...jobs.filter((j) => j[k] !== null).map((j) => j[k]));
  const minOf = (k) => Math.min(...jobs.filter((j) => j[k] !== null).map((j) => j[k]));
  const finalCounts = {};
  for (const j of jobs) finalCounts[j.status] = (finalCounts[j.status] ?? 0) + 1;
  const failures = {};
  for (const j of jobs) if (j.status === 'failed') failures[j.error ?? '(no error)'] = (failures[j.error ?? '(no error)'] ?? 0) + 1;
  const nQueued = jobs.filter((j) => j.queued !== null).length;
  const nEnded = jobs.filter((j) => j.status === 'completed').length;
  const { rows: outboxRows } = await pg.query(`
    SELECT target, count(*)::int AS n, count(published_at)::int AS published,
      percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - created_at) * 1000) AS p50,
      percentile_disc(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - created_at) * 1000) AS p95,
      max(extract(epoch FROM published_at - created_at) * 1000) AS max
    FROM outbox GROUP BY target ORDER BY target`);
  const outbox = outboxRows.map((r) => ({ target: r.target, n: r.n, published: r.published, delayMs: { p50: round(num(r.p50)), p95: round(num(r.p95)), max: round(num(r.max)) } }));

  const submitWallMs = marks.allSubmittedMs;
  const result = {
    jobs: N,
    concurrency: CONCURRENCY,
    workers: WORKERS,
    trainer: trainerCmd.replace(repoRoot + path.sep, ''),
    bootMs: round(bootMs),
    submit: {
      accepted202: accepted,
      errors: N - accepted,
      statusCounts,
      errorSamples: errors,
      seconds: round(submitWallMs / 1000, 3),
      perSecond: round((accepted / submitWallMs) * 1000),
      latencyMs: dist(latencies),
    },
    pipeline: {
      allDispatched: nQueued === N,
      dispatchedCount: nQueued,
      // From the start of the submit phase (client wall clock) to the last job's `queued` event (database clock, same host).
      allDispatchedSeconds: nQueued ? round((maxOf('queued') - t0Wall) / 1000, 2) : null,
      allDispatchedSecondsPolled: marks.allDispatchedPollMs === null ? null : round(marks.allDispatchedPollMs / 1000, 2),
      completedCount: nEnded,
      allCompleted: nEnded === N,
      allCompletedSeconds: nEnded === N ? round((maxOf('ended') - t0Wall) / 1000, 2) : null,
      waitedSeconds: round(waitedMs / 1000, 1),
      completeTimeoutSeconds: COMPLETE_TIMEOUT_MS / 1000,
      // Worker throughput: completions per second between the first `running` and the last completion.
      workerJobsPerSecond: nEnded > 1 ? round((nEnded / (maxOf('ended') - minOf('running'))) * 1000, 2) : null,
      finalCounts,
      failures,
      stageMs: {
        submittedToPackaging: dist(span('created', 'packaging')),
        packagingToQueued: dist(span('packaging', 'queued')),
        submittedToQueued: dist(span('created', 'queued')),
        queuedToRunning: dist(span('queued', 'running')),
        runningToEnded: dist(span('running', 'ended')),
      },
      outbox,
      timeline,
    },
    // CPU seconds per process (worker agents include their trainers): 5 s idle before submitting, the submit
    // phase, and from its end until the benchmark stopped waiting.
    cpu: { idle5s: cpuBetween(cpuIdle, cpu0), submitPhase: cpuBetween(cpu0, cpu1), afterSubmit: cpuBetween(cpu1, cpu2) },
    loadavg: load,
    // Exits before the benchmark stopped everything (a crash); exits during cleanup are not listed.
    processExits: { ...exits },
    logs: scanLogs(logDir),
  };
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Part 2: raw BullMQ on the same Redis: a throwaway queue, a no-op Worker (concurrency 16).
async function bullRun(mode, connection, workerConnection) {
  const name = `ct-bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const worker = new Worker(name, async () => undefined, { connection: workerConnection, concurrency: CONCURRENCY });
  worker.on('completed', () => {
    if (++done === BULL_JOBS) resolveAll();
  });
  worker.on('failed', (_job, err) => say(`bullmq job failed: ${err.message}`));
  await worker.waitUntilReady();
  await queue.waitUntilReady();
  const opts = { removeOnComplete: true, removeOnFail: true };
  try {
    const t0 = performance.now();
    if (mode === 'addBulk') {
      await queue.addBulk(Array.from({ length: BULL_JOBS }, (_, i) => ({ name: 'noop', data: { i }, opts })));
    } else {
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < BULL_JOBS; i = next++) await queue.add('noop', { i }, opts);
        }),
      );
    }
    const addMs = performance.now() - t0;
    let timer;
    const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), 60_000)));
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`bullmq ${mode}: only ${done}/${BULL_JOBS} processed in 60 s`);
    const allMs = performance.now() - t0;
    return { addMs, addsPerSecond: (BULL_JOBS / addMs) * 1000, allProcessedMs: allMs, processedPerSecond: (BULL_JOBS / allMs) * 1000 };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function runBullmq() {
  const connection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const workerConnection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    const out = {};
    for (const mode of ['addBulk', 'add']) {
      const runs = [];
      for (let r = 0; r < BULL_RUNS; r++) runs.push(await bullRun(mode, connection, workerConnection));
      out[mode] = {
        runs: runs.length,
        addMs: round(median(runs.map((r) => r.addMs))),
        addsPerSecond: round(median(runs.map((r) => r.addsPerSecond))),
        allProcessedMs: round(median(runs.map((r) => r.allProcessedMs))),
        processedPerSecond: round(median(runs.map((r) => r.processedPerSecond))),
        raw: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
      };
    }
    return { jobs: BULL_JOBS, concurrency: CONCURRENCY, jobOptions: 'removeOnComplete, removeOnFail', ...out };
  } finally {
    connection.disconnect();
    workerConnection.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
function toMarkdown(report) {
  const lines = [];
  const s = report.stack;
  if (s) {
    const p = s.pipeline;
    const l = s.submit.latencyMs;
    lines.push(`Stack: ${s.jobs} jobs, concurrency ${s.concurrency}, ${s.workers} worker agent(s), instant trainer, fs storage; 1 run.`, '');
    lines.push('| figure | value |', '|---|---|');
    lines.push(`| answered 202 / errors | ${s.submit.accepted202} / ${s.submit.errors} ${s.submit.errors ? JSON.stringify(s.submit.statusCounts) : ''} |`);
    lines.push(`| submit phase | ${s.submit.seconds} s |`);
    lines.push(`| submissions/s | ${s.submit.perSecond} |`);
    lines.push(`| submit latency p50 / p95 / p99 / max (ms) | ${l.p50} / ${l.p95} / ${l.p99} / ${l.max} |`);
    lines.push(`| all ${s.jobs} dispatched (queued or later) after | ${p.allDispatched ? `${p.allDispatchedSeconds} s` : `NOT all: ${p.dispatchedCount}`} |`);
    lines.push(`| all ${s.jobs} completed after | ${p.allCompleted ? `${p.allCompletedSeconds} s` : `NOT all: ${p.completedCount} after ${p.waitedSeconds} s`} |`);
    lines.push(`| worker throughput (completions/s) | ${p.workerJobsPerSecond} |`);
    for (const [k, d] of Object.entries(p.stageMs)) lines.push(`| ${k} p50 / p95 / max (ms) | ${d.p50} / ${d.p95} / ${d.max} (n=${d.n}) |`);
    for (const o of p.outbox) lines.push(`| outbox → ${o.target} delay p50 / p95 / max (ms) | ${o.delayMs.p50} / ${o.delayMs.p95} / ${o.delayMs.max} (n=${o.n}, published ${o.published}) |`);
    lines.push(`| final statuses | ${JSON.stringify(p.finalCounts)} |`);
    for (const [phase, c] of Object.entries(s.cpu)) {
      const per = Object.entries(c.cpuSeconds).map(([k, v]) => `${k} ${v}`).join(', ');
      lines.push(`| CPU s, ${phase} (${c.wallSeconds} s wall) | ${per}; machine busy ${c.machineBusyCores} cores (ours ${c.oursCores}, others ${c.otherCores}) |`);
    }
    lines.push(`| load average (1/5/15 min) before / after submit / end | ${s.loadavg.before.join(' ')} / ${s.loadavg.afterSubmit.join(' ')} / ${s.loadavg.end.join(' ')} |`);
    const exits = Object.keys(s.processExits);
    if (exits.length) lines.push(`| processes that exited during the run | ${JSON.stringify(s.processExits)} |`);
    const noisy = Object.entries(s.logs).filter(([, c]) => c.warn + c.error + c.fatal > 0);
    for (const [svc, c] of noisy) lines.push(`| ${svc} log warn / error / fatal | ${c.warn} / ${c.error} / ${c.fatal}: ${c.messages.map((m) => `${m.n}x ${m.m.trim()}`).join('; ').replace(/\|/g, '/')} |`);
    lines.push('');
  }
  const b = report.bullmq;
  if (b) {
    lines.push(`Raw BullMQ, same Redis: ${b.jobs} jobs, no-op Worker concurrency ${b.concurrency}; medians of ${b.addBulk.runs} runs.`, '');
    lines.push('| mode | add time ms | adds/s | all processed ms (from first add) | processed/s |', '|---|---|---|---|---|');
    lines.push(`| addBulk | ${b.addBulk.addMs} | ${b.addBulk.addsPerSecond} | ${b.addBulk.allProcessedMs} | ${b.addBulk.processedPerSecond} |`);
    lines.push(`| add x${b.concurrency} concurrent | ${b.add.addMs} | ${b.add.addsPerSecond} | ${b.add.allProcessedMs} | ${b.add.processedPerSecond} |`);
  }
  return lines.join('\n');
}

async function main() {
  const report = {
    benchmark: 'submit',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: { jobs: N, concurrency: CONCURRENCY, workers: WORKERS, redis: REDIS_URL, logLevel: LOG_LEVEL },
  };
  try {
    if (process.env.BENCH_SKIP_STACK !== '1') report.stack = await runStack();
  } finally {
    say('stopping the stack, dropping the database...');
    await cleanup();
  }
  if (BULL_RUNS > 0) {
    say(`raw BullMQ: ${BULL_RUNS} runs each of addBulk and add...`);
    report.bullmq = await runBullmq();
  }
  const markdown = toMarkdown(report);
  console.log(markdown);
  const outDir = path.join(repoRoot, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'submit.json'), `${JSON.stringify({ ...report, markdown }, null, 2)}\n`);
  say(`wrote ${path.relative(repoRoot, path.join(outDir, 'submit.json'))}`);
  const bad = report.stack && (report.stack.submit.errors > 0 || !report.stack.pipeline.allDispatched);
  process.exitCode = bad ? 1 : 0;
}

await main();

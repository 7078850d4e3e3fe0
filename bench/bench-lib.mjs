// Helpers shared by the benchmarks (plain Node ESM): environment knobs, statistics, a throwaway database,
// cleanup on exit or Ctrl-C, service-log scans and CPU accounting from /proc.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { Client } = require('pg');

/** A non-negative integer from the environment, or the default. */
export function int(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}
/** A non-negative number from the environment, or the default. */
export function number(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const round = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? null : Math.round(v * 10 ** d) / 10 ** d);

/** `say('...')` writes `[name +12.3s] ...` to stderr. */
export function makeSay(name) {
  const startedAt = performance.now();
  return (m) => process.stderr.write(`[${name} +${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${m}\n`);
}

export function machineInfo() {
  return { nproc: os.cpus().length, cpu: os.cpus()[0]?.model, totalMemGiB: round(os.totalmem() / 1024 ** 3, 2), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)); // nearest rank
  return sorted[idx];
}
export function median(values) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function dist(values, d = 1) {
  return { n: values.length, p50: round(percentile(values, 50), d), p95: round(percentile(values, 95), d), p99: round(percentile(values, 99), d), max: round(values.length ? Math.max(...values) : null, d) };
}

/** Cleanup steps run in reverse order once, at the end or on SIGINT/SIGTERM (then the process exits 130). */
export function createCleanups(say) {
  const steps = [];
  let cleaning = null;
  const run = () => {
    cleaning ??= (async () => {
      for (const fn of steps.reverse()) {
        try {
          await fn();
        } catch (err) {
          say(`cleanup step failed: ${err.message}`);
        }
      }
    })();
    return cleaning;
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      say(`${sig}: cleaning up...`);
      void run().finally(() => process.exit(130));
    });
  }
  return { push: (fn) => steps.push(fn), run };
}

/** A fresh database on the server of `pgUrl`, dropped at cleanup unless `keep`. */
export async function createDatabase({ pgUrl, keep, cleanups, say, prefix = 'ct_bench' }) {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  cleanups.push(async () => {
    if (keep) return say(`kept database ${name}`);
    const c = new Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  return { name, url: url.toString() };
}

export async function waitForFile(file, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file) || readFileSync(file, 'utf8').trim() === '') {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await sleep(100);
  }
  return readFileSync(file, 'utf8').trim();
}

/** Counts warn/error lines of every service log (pino JSON: level 40/50/60) and keeps a few samples. */
export function scanLogs(logDir) {
  const out = {};
  if (!existsSync(logDir)) return out;
  for (const f of readdirSync(logDir)) {
    const counts = { warn: 0, error: 0, fatal: 0, nonJson: 0 };
    const samples = new Map();
    for (const line of readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
      if (!line) continue;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        counts.nonJson++;
        continue;
      }
      const lvl = typeof rec.level === 'number' ? rec.level : { warn: 40, error: 50, fatal: 60 }[rec.level] ?? 30;
      if (lvl < 40) continue;
      counts[lvl >= 60 ? 'fatal' : lvl >= 50 ? 'error' : 'warn']++;
      const key = `${rec.msg ?? ''} ${rec.err ?? rec.reason ?? ''}`.slice(0, 300);
      samples.set(key, (samples.get(key) ?? 0) + 1);
    }
    out[f.replace(/\.log$/, '')] = { ...counts, messages: [...samples.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([m, n]) => ({ n, m })) };
  }
  return out;
}

// CPU accounting from /proc (Linux only; null elsewhere): per process and machine-wide.
const CLK_TCK = 100; // USER_HZ; 100 on every mainstream Linux build
export function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime + cutime + cstime: a worker agent's reaped trainer processes count as its own.
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}
export function machineCpu() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4];
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busyMs: ((total - idle) * 1000) / CLK_TCK, totalMs: (total * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}
export function loadavg() {
  return os.loadavg().map((v) => round(v, 2));
}
/** Snapshot: CPU ms of each of our processes, of this database's Postgres backends, of the machine. */
export async function cpuSnapshot(procs, pg) {
  const snap = { at: performance.now(), procs: {}, pgBackends: {}, machine: machineCpu(), self: process.cpuUsage() };
  for (const [name, p] of Object.entries(procs)) snap.procs[name] = procCpuMs(p.pid);
  const { rows } = await pg.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  for (const r of rows) snap.pgBackends[r.pid] = procCpuMs(r.pid);
  return snap;
}
export function cpuBetween(a, b) {
  const seconds = (b.at - a.at) / 1000;
  const out = { wallSeconds: round(seconds, 2), cpuSeconds: {} };
  for (const name of Object.keys(b.procs)) {
    if (a.procs[name] != null && b.procs[name] != null) out.cpuSeconds[name] = round((b.procs[name] - a.procs[name]) / 1000, 2);
  }
  let pgMs = 0;
  for (const [pid, ms] of Object.entries(b.pgBackends)) if (ms != null) pgMs += ms - (a.pgBackends[pid] ?? 0); // new backends: all of it
  out.cpuSeconds['postgres (this db)'] = round(pgMs / 1000, 2);
  out.cpuSeconds['bench client'] = round((b.self.user + b.self.system - a.self.user - a.self.system) / 1e6, 2);
  if (a.machine && b.machine) {
    out.machineBusyCores = round((b.machine.busyMs - a.machine.busyMs) / 1000 / seconds, 2);
    const ours = Object.values(out.cpuSeconds).reduce((x, y) => x + (y ?? 0), 0);
    out.oursCores = round(ours / seconds, 2);
    out.otherCores = round(out.machineBusyCores - out.oursCores, 2); // other people's processes on this machine
  }
  return out;
}

/**
 * The five services as processes on a fresh, migrated database and a state dir of their own (both removed at
 * cleanup unless `keep`), `LOG_LEVEL=warn`, random ports: what the admission, list and events benches stand on.
 * Answers the database, the services, the admin API key and the state dir.
 */
export async function startBenchStack({ repoRoot, pgUrl, redisUrl, keep, cleanups, say, prefix, env = {} }) {
  const stack = require(path.join(repoRoot, 'scripts/stack.cjs'));
  const db = await createDatabase({ pgUrl, keep, cleanups, say, prefix: `ct_bench_${prefix}` });
  await require(path.join(repoRoot, 'libs/persistence/dist/index.js')).migrate(db.url);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `ct-bench-${prefix}-`));
  cleanups.push(async () => (keep ? say(`kept ${stateDir}`) : rmSync(stateDir, { recursive: true, force: true })));
  say('starting the five services...');
  const services = await stack.startServices({
    env: { DATABASE_URL: db.url, REDIS_URL: redisUrl, SIMPLETUNER_STATE_DIR: stateDir, STORAGE_DRIVER: 'fs', DATASET_ROOTS: stateDir, LOG_LEVEL: 'warn', QUEUE_PREFIX: `bench-${prefix}-${process.pid}`, ...env },
    logDir: path.join(stateDir, 'logs'),
    ports: 'random',
  });
  cleanups.push(() => services.stop());
  const key = await waitForFile(path.join(stateDir, 'cloud', 'admin-api-key'), 30_000);
  return { db, services, key, stateDir };
}

/** Runs a bench's main, then its cleanups, and exits 0, or 1 with the error on stderr. */
export function runBench(main, cleanups) {
  main().then(
    async () => {
      await cleanups.run();
      process.exit(0);
    },
    async (err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      await cleanups.run();
      process.exit(1);
    },
  );
}

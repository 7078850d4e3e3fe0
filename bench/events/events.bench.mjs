// Events benchmark (issue 10): from a job's change to its arrival on 500 SSE streams, beside a minimal SSE
// server on the same Redis (the baseline: pub/sub and a Node fan-out to as many streams, nothing else), in one run.
//   System: 500 `GET /api/events` streams of one organisation; jobs that wait forever (a label no worker has) are
//   cancelled one at a time over the API; each `cancelled` event's latency is its arrival minus its `at` (the
//   moment of the change, written in the transaction that commits it; same machine clock).
//   Baseline: 500 streams to a 30-line server that relays one Redis channel; the bench publishes a timestamp.
//   Memory: the gateway's RSS before the streams, with them open, and 15 s after they closed.
// Plain Node ESM on the COMPILED services (`npm run build` first).
//
// Knobs: BENCH_STREAMS (500), BENCH_CHANGES (200), BENCH_RATE (20 changes/s), BENCH_PG_URL, BENCH_REDIS_URL, BENCH_KEEP=1.
// Output: a markdown table on stdout and the raw figures in bench/out/events.json.
import http from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCleanups, dist, int, machineInfo, makeSay, sleep, runBench, startBenchStack } from '../bench-lib.mjs';

const require = createRequire(import.meta.url);
const thisDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(thisDir, '..', '..');
const { Redis } = require('ioredis');

const STREAMS = int('BENCH_STREAMS', 500);
const CHANGES = int('BENCH_CHANGES', 200);
const RATE = int('BENCH_RATE', 20);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/10';
const KEEP = process.env.BENCH_KEEP === '1';

const say = makeSay('events-bench');
const cleanups = createCleanups(say);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Opens an SSE stream; `onEvent(name, data, arrivedAt)`; resolves once the response headers are in. */
function openStream(url, headers, onEvent) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const at = Date.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data) onEvent(name, JSON.parse(data), at);
        }
      });
      res.on('error', () => undefined);
      resolve(() => req.destroy());
    });
    req.on('error', reject);
  });
}

/** The baseline: a minimal SSE server relaying one Redis channel to every stream, in its own process (as the gateway is). */
const BASELINE_SERVER = `
const http = require('node:http');
const { Redis } = require(process.env.IOREDIS);
const sub = new Redis(process.env.REDIS_URL);
const clients = new Set();
sub.subscribe(process.env.CHANNEL);
sub.on('message', (_c, m) => { const frame = 'event: tick\\ndata: ' + m + '\\n\\n'; for (const res of clients) res.write(frame); });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(': ready\\n\\n');
  clients.add(res);
  req.on('close', () => clients.delete(res));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
async function baselineServer(channel) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', BASELINE_SERVER], { env: { ...process.env, REDIS_URL, CHANNEL: channel, IOREDIS: require.resolve('ioredis') }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`the baseline server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: async () => void child.kill('SIGTERM') };
}

async function main() {
  const { db, services, key } = await startBenchStack({ repoRoot, pgUrl: PG_URL, redisUrl: REDIS_URL, keep: KEEP, cleanups, say, prefix: 'ev', env: {} });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const api = async (p, init = {}) => fetch(`${services.gatewayUrl}${p}`, { ...init, headers });

  // Jobs that wait for good: self-hosted, a label no worker has (there is no worker).
  say(`submitting ${CHANGES} jobs that will wait...`);
  const ids = [];
  for (let i = 0; i < CHANGES; i++) {
    const r = await api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify({ provider: 'worker', config: {}, worker_requirements: { labels: ['nobody'] } }) });
    if (r.status !== 202) throw new Error(`submit ${r.status}`);
    ids.push((await r.json()).id);
  }
  const queued = async () => (await (await api('/api/cloud/jobs?status=queued&limit=200')).json()).jobs.length;
  for (let i = 0; i < 200 && (await queued()) < Math.min(CHANGES, 200); i++) await sleep(100);

  const gatewayPid = services.procs['api-gateway'].pid;
  const rss = { before: rssMiB(gatewayPid) };

  // ---- the system ----
  say(`opening ${STREAMS} streams to the gateway...`);
  const arrivals = new Map(); // job id -> [latency ms per stream]
  const closers = [];
  for (let s = 0; s < STREAMS; s++) {
    closers.push(await openStream(`${services.gatewayUrl}/api/events`, { authorization: `Bearer ${key}` }, (name, data, at) => {
      if (name !== 'job.changed' || data.status !== 'cancelled') return;
      (arrivals.get(data.job_id) ?? arrivals.set(data.job_id, []).get(data.job_id)).push(at - Date.parse(data.at));
    }));
  }
  await sleep(1_000);
  rss.withStreams = rssMiB(gatewayPid);
  say(`cancelling ${CHANGES} jobs at ${RATE}/s...`);
  for (const id of ids) {
    const t = Date.now();
    const r = await api(`/api/cloud/jobs/${id}/cancel`, { method: 'POST' });
    if (r.status !== 200) throw new Error(`cancel ${r.status}`);
    await sleep(Math.max(0, 1000 / RATE - (Date.now() - t)));
  }
  for (let i = 0; i < 100 && [...arrivals.values()].reduce((a, v) => a + v.length, 0) < CHANGES * STREAMS; i++) await sleep(100);
  const system = [...arrivals.values()].flat();
  // Where the time goes: the change to its outbox row's publication (commit, wake-up, relay round), and the
  // publication to arrival (Redis, the gateway's fan-out, the streams), from the outbox's own timestamps.
  const pg = new (require('pg').Client)({ connectionString: db.url });
  await pg.connect();
  const { rows: published } = await pg.query(`SELECT payload->>'jobId' AS job_id, payload->>'at' AS at, published_at FROM outbox WHERE kind = 'event' AND payload->>'status' = 'cancelled'`);
  await pg.end();
  const toRelay = published.map((r) => r.published_at.getTime() - Date.parse(r.at));
  const publishedAt = new Map(published.map((r) => [r.job_id, r.published_at.getTime() - Date.parse(r.at)]));
  const fanOut = [...arrivals].flatMap(([id, lat]) => lat.map((l) => l - (publishedAt.get(id) ?? NaN))).filter((x) => !Number.isNaN(x));
  for (const close of closers) close();
  await sleep(15_000);
  rss.afterClose = rssMiB(gatewayPid);

  // ---- the baseline ----
  say(`the baseline: ${STREAMS} streams to a minimal SSE server on the same Redis...`);
  const channel = `bench-ev-baseline-${process.pid}`;
  const base = await baselineServer(channel);
  cleanups.push(() => base.stop());
  const pub = new Redis(REDIS_URL);
  cleanups.push(async () => pub.disconnect());
  const baseline = [];
  const baseClosers = [];
  for (let s = 0; s < STREAMS; s++) baseClosers.push(await openStream(base.url, {}, (name, data, at) => name === 'tick' && baseline.push(at - data.t)));
  await sleep(1_000);
  for (let i = 0; i < CHANGES; i++) {
    await pub.publish(channel, JSON.stringify({ t: Date.now() }));
    await sleep(1000 / RATE);
  }
  for (let i = 0; i < 100 && baseline.length < CHANGES * STREAMS; i++) await sleep(100);
  for (const close of baseClosers) close();

  const result = {
    machine: machineInfo(), streams: STREAMS, changes: CHANGES, rate: RATE,
    system: { ...dist(system, 1), expected: CHANGES * STREAMS }, changeToPublished: dist(toRelay, 1), publishedToArrival: dist(fanOut, 1), baseline: { ...dist(baseline, 1), expected: CHANGES * STREAMS },
    gatewayRssMiB: { before: Math.round(rss.before), withStreams: Math.round(rss.withStreams), afterClose: Math.round(rss.afterClose) },
  };
  mkdirSync(path.join(repoRoot, 'bench/out'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'bench/out/events.json'), JSON.stringify(result, null, 2));
  console.log(`
${STREAMS} streams, ${CHANGES} changes at ${RATE}/s (latency of each event on each stream)

| measure | p50 | p95 | p99 | max | received / expected |
|---|---|---|---|---|---|
| job change → SSE arrival (ms) | ${result.system.p50} | ${result.system.p95} | ${result.system.p99} | ${result.system.max} | ${result.system.n} / ${result.system.expected} |
| of which change → published by the relay (ms) | ${result.changeToPublished.p50} | ${result.changeToPublished.p95} | ${result.changeToPublished.p99} | ${result.changeToPublished.max} | ${result.changeToPublished.n} changes |
| of which published → arrival (ms) | ${result.publishedToArrival.p50} | ${result.publishedToArrival.p95} | ${result.publishedToArrival.p99} | ${result.publishedToArrival.max} | |
| baseline: publish → arrival, minimal SSE server (ms) | ${result.baseline.p50} | ${result.baseline.p95} | ${result.baseline.p99} | ${result.baseline.max} | ${result.baseline.n} / ${result.baseline.expected} |

gateway RSS (MiB): ${result.gatewayRssMiB.before} before the streams, ${result.gatewayRssMiB.withStreams} with them, ${result.gatewayRssMiB.afterClose} 15 s after they closed
`);
}

runBench(main, cleanups);

// Admission benchmark (issue 8): with 10,000 jobs waiting for a slot, what admission costs.
//   A. Submission latency with a block spending limit (the reservation under the organisation's lock and the
//      window's sum) beside the same submissions without limits, alternated in rounds in one run.
//   B. GET /api/queue/position/:id for jobs anywhere in the 10,000.
//   C. A freed slot: from the transaction that ends an admitted job to the next waiting job's admission
//      (the wake-up goes through the outbox relay and the dispatcher).
// Plain Node ESM on the COMPILED services (`npm run build` first); the Replicate simulator stands in for Replicate.
//
// Knobs: BENCH_WAITING (10000), BENCH_ROUNDS (3), BENCH_PER_ROUND (100), BENCH_CONCURRENCY (8),
//        BENCH_POSITIONS (500), BENCH_FREES (100), BENCH_PG_URL, BENCH_REDIS_URL, BENCH_KEEP=1,
//        BENCH_NO_VACUUM=1 (only ANALYZE after the inserts: the table as it is before autovacuum has run).
// Output: a markdown table on stdout and the raw figures in bench/out/admission.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCleanups, dist, int, machineInfo, makeSay, sleep, runBench, startBenchStack } from '../bench-lib.mjs';

const require = createRequire(import.meta.url);
const thisDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(thisDir, '..', '..');
const { Client } = require('pg');
const { ReplicateSimulator } = require(path.join(repoRoot, 'libs/testing/dist/index.js'));

const WAITING = int('BENCH_WAITING', 10_000);
const ROUNDS = int('BENCH_ROUNDS', 3);
const PER_ROUND = int('BENCH_PER_ROUND', 100);
const CONCURRENCY = int('BENCH_CONCURRENCY', 8);
const POSITIONS = int('BENCH_POSITIONS', 500);
const FREES = int('BENCH_FREES', 100);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/8';
const KEEP = process.env.BENCH_KEEP === '1';

const say = makeSay('admission-bench');
const cleanups = createCleanups(say);

async function main() {
  const sim = new ReplicateSimulator({ defaults: { queueMs: 100, durationMs: 600_000 } });
  const { apiUrl } = await sim.start();
  cleanups.push(() => sim.stop());
  const { db, services, key } = await startBenchStack({ repoRoot, pgUrl: PG_URL, redisUrl: REDIS_URL, keep: KEEP, cleanups, say, prefix: 'adm', env: { REPLICATE_API_BASE_URL: apiUrl } });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const api = async (p, init = {}) => fetch(`${services.gatewayUrl}${p}`, { ...init, headers });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanups.push(() => pg.end());
  const { rows: [org] } = await pg.query(`SELECT id FROM organizations WHERE slug = 'default'`);

  if ((await api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status !== 200) throw new Error('replicate config');
  // Every Replicate submission waits (one slot, held by a job that never ends): nothing runs during A.
  // Self-hosted: two slots, held by queued jobs no worker will claim (there is none): C frees them.
  const sched = await api('/api/cloud/scheduling', { method: 'PUT', body: JSON.stringify({ concurrency: [{ provider: 'replicate', max_jobs: 1 }, { provider: 'worker', max_jobs: 2 }] }) });
  if (sched.status !== 200) throw new Error(`scheduling ${sched.status} ${await sched.text()}`);
  await pg.query(`INSERT INTO jobs (id, org_id, name, provider, status, config, dataloader, admitted_at, started_at)
                  VALUES (gen_random_uuid(), $1, 'slot-holder', 'replicate', 'running', '{}', '[]', now(), now())`, [org.id]);
  say(`inserting ${WAITING} waiting jobs...`);
  await pg.query(
    `INSERT INTO jobs (id, org_id, name, provider, status, config, dataloader, rewritten_dataloader, requirements, priority, reserved_micros, created_at, updated_at)
     SELECT gen_random_uuid(), $1, 'waiting-' || g, 'worker', 'waiting', '{"max_train_steps": 100}', '[]', '[]', '{"labels": ["nobody"]}', 1 + (g % 10), 1000000, now() - (g || ' seconds')::interval, now()
     FROM generate_series(1, $2) g`, [org.id, WAITING]);
  // What autovacuum does after inserts like these (real ones come over hours, autovacuum keeps up): the
  // visibility map lets the queue position count its index without reading the table (BENCHMARKS.md shows both).
  if (process.env.BENCH_NO_VACUUM === '1') await pg.query('ANALYZE jobs');
  else await pg.query('VACUUM ANALYZE jobs');

  // ---- A: submissions with and without a block limit, alternated ----
  const job = JSON.stringify({ provider: 'replicate', config: { max_train_steps: 20 } });
  const limitsOn = JSON.stringify({ limits: [{ provider: 'replicate', period: 'month', amount_usd: 1_000_000, action: 'block' }, { provider: '*', period: 'day', amount_usd: 1_000_000, action: 'warn' }] });
  const limitsOff = JSON.stringify({ limits: [] });
  const submitRound = async () => {
    const lat = [];
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < PER_ROUND) {
        next++;
        const t0 = performance.now();
        const r = await api('/api/cloud/jobs', { method: 'POST', body: job });
        await r.text();
        if (r.status !== 202) throw new Error(`submit answered ${r.status}`);
        lat.push(performance.now() - t0);
      }
    }));
    return lat;
  };
  for (let i = 0; i < 30; i++) await (await api('/api/cloud/jobs?limit=1')).text();
  await submitRound(); // warm-up
  const A = { with: [], without: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? ['without', 'with'] : ['with', 'without']) {
      const put = await api('/api/cloud/cost-limits', { method: 'PUT', body: mode === 'with' ? limitsOn : limitsOff });
      if (put.status !== 200) throw new Error(`cost-limits ${put.status}`);
      A[mode].push(...(await submitRound()));
    }
  }
  say(`A done: ${A.with.length} + ${A.without.length} submissions`);

  // ---- B: queue positions ----
  const { rows: ids } = await pg.query(`SELECT id FROM jobs WHERE provider = 'worker' AND status = 'waiting' ORDER BY random() LIMIT $1`, [POSITIONS]);
  const B = [];
  const B0 = []; // for reference: an authenticated read of one settings row, the floor of any answer
  const Bq = []; // the position's query alone, through pg
  const { positionQuery } = require(path.join(repoRoot, 'libs/persistence/dist/index.js'));
  for (const { id } of ids) {
    const q = positionQuery(org.id, 'worker', id);
    const tq = performance.now();
    const { rows: [pos] } = await pg.query(q.text, q.values);
    Bq.push(performance.now() - tq);
    if (pos.ahead === null) throw new Error('a waiting job without a position');
    let t0 = performance.now();
    const r = await api(`/api/queue/position/${id}`);
    await r.json();
    if (r.status !== 200) throw new Error(`position ${r.status}`);
    B.push(performance.now() - t0);
    t0 = performance.now();
    const s = await api('/api/cloud/scheduling');
    await s.json();
    B0.push(performance.now() - t0);
  }
  say(`B done: ${B.length} positions`);

  // ---- C: freed slots ----
  // Two worker jobs take the two slots: submitting them runs admission, which fills both slots in queue order.
  for (let i = 0; i < 2; i++) if ((await api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify({ provider: 'worker', config: {}, worker_requirements: { labels: ['nobody'] } }) })).status !== 202) throw new Error('worker submit');
  const holding = async () => Number((await pg.query(`SELECT count(*) AS n FROM jobs WHERE provider = 'worker' AND admitted_at IS NOT NULL AND status = 'queued'`)).rows[0].n);
  for (let i = 0; i < 400 && (await holding()) < 2; i++) await sleep(50);
  if ((await holding()) < 2) throw new Error('the two worker slots were not filled within 20 s');
  const C = [];
  for (let i = 0; i < FREES; i++) {
    const { rows: [held] } = await pg.query(`SELECT id FROM jobs WHERE provider = 'worker' AND admitted_at IS NOT NULL AND status = 'queued' ORDER BY admitted_at LIMIT 1`);
    if (!held) throw new Error('no admitted job to cancel');
    const r = await api(`/api/cloud/jobs/${held.id}/cancel`, { method: 'POST' });
    if (r.status !== 200) throw new Error(`cancel ${r.status}`);
    const { rows: [{ finished_at: freedAt }] } = await pg.query('SELECT finished_at FROM jobs WHERE id = $1', [held.id]);
    let admitted = null;
    for (let w = 0; w < 400 && !admitted; w++) {
      const { rows } = await pg.query(`SELECT admitted_at FROM jobs WHERE provider = 'worker' AND admitted_at > $1 ORDER BY admitted_at LIMIT 1`, [freedAt]);
      admitted = rows[0]?.admitted_at ?? null;
      if (!admitted) await sleep(5);
    }
    if (!admitted) throw new Error('the freed slot was not filled within 2 s');
    C.push(admitted.getTime() - freedAt.getTime());
    // The next round cancels a job that holds its slot with the provider (queued), not one still being dispatched.
    for (let w = 0; w < 400 && (await holding()) < 2; w++) await sleep(5);
  }
  say(`C done: ${C.length} freed slots`);

  const a = { with: dist(A.with), without: dist(A.without) };
  const result = {
    machine: machineInfo(), waiting: WAITING, rounds: ROUNDS, perRound: PER_ROUND, concurrency: CONCURRENCY,
    submitMs: a, submitP99AddedMs: Math.round((a.with.p99 - a.without.p99) * 10) / 10, positionMs: dist(B), positionQueryMs: dist(Bq), settingsReadMs: dist(B0), freedSlotToAdmittedMs: dist(C),
  };
  mkdirSync(path.join(repoRoot, 'bench/out'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'bench/out/admission.json'), JSON.stringify({ ...result, raw: { A, B, C } }, null, 2));
  process.stdout.write(`
| measure (${WAITING} jobs waiting) | p50 | p95 | p99 | max | n |
|---|---|---|---|---|---|
| submit, no limits (ms) | ${a.without.p50} | ${a.without.p95} | ${a.without.p99} | ${a.without.max} | ${a.without.n} |
| submit, with block + warn limits (ms) | ${a.with.p50} | ${a.with.p95} | ${a.with.p99} | ${a.with.max} | ${a.with.n} |
| queue position (ms) | ${result.positionMs.p50} | ${result.positionMs.p95} | ${result.positionMs.p99} | ${result.positionMs.max} | ${result.positionMs.n} |
| queue position, its query alone through pg (ms) | ${result.positionQueryMs.p50} | ${result.positionQueryMs.p95} | ${result.positionQueryMs.p99} | ${result.positionQueryMs.max} | ${result.positionQueryMs.n} |
| for reference: GET /api/cloud/scheduling (ms) | ${result.settingsReadMs.p50} | ${result.settingsReadMs.p95} | ${result.settingsReadMs.p99} | ${result.settingsReadMs.max} | ${result.settingsReadMs.n} |
| freed slot → next admitted (ms) | ${result.freedSlotToAdmittedMs.p50} | ${result.freedSlotToAdmittedMs.p95} | ${result.freedSlotToAdmittedMs.p99} | ${result.freedSlotToAdmittedMs.max} | ${result.freedSlotToAdmittedMs.n} |

submission p99 added by the limits: ${result.submitP99AddedMs} ms
`);
}

runBench(main, cleanups);

// Job list benchmark (issue 10): 200,000 jobs in two organisations; GET /api/cloud/jobs through the gateway
// (auth, validation, the two queries, the view, JSON) for the first page, the 1,000th page and a `status=`
// filter deep down, beside the same keyset SQL sent straight through `pg` (the baseline: what the database
// alone costs), alternated request by request in one run.
// Plain Node ESM on the COMPILED services (`npm run build` first).
//
// Knobs: BENCH_JOBS (200000, split over two organisations), BENCH_REQUESTS (300 per case), BENCH_PG_URL,
//        BENCH_REDIS_URL, BENCH_KEEP=1.
// Output: a markdown table on stdout and the raw figures in bench/out/list.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCleanups, dist, int, machineInfo, makeSay, runBench, startBenchStack } from '../bench-lib.mjs';

const require = createRequire(import.meta.url);
const thisDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(thisDir, '..', '..');
const { Client } = require('pg');

const JOBS = int('BENCH_JOBS', 200_000);
const REQUESTS = int('BENCH_REQUESTS', 300);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const KEEP = process.env.BENCH_KEEP === '1';
const PAGE = 50;

const say = makeSay('list-bench');
const cleanups = createCleanups(say);
const cursorOf = (r) => Buffer.from(`${r.created_at.toISOString()}|${r.id}`).toString('base64url');

async function main() {
  const { db, services, key } = await startBenchStack({ repoRoot, pgUrl: PG_URL, redisUrl: REDIS_URL, keep: KEEP, cleanups, say, prefix: 'list', env: {} });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanups.push(() => pg.end());
  const { rows: [org] } = await pg.query(`SELECT id FROM organizations WHERE slug = 'default'`);
  const { rows: [other] } = await pg.query(`INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'other', 'other') RETURNING id`);

  say(`inserting ${JOBS} ended jobs in two organisations...`);
  for (const o of [org.id, other.id]) {
    await pg.query(
      `INSERT INTO jobs (id, org_id, name, provider, status, config, dataloader, progress, cost_micros, created_at, started_at, finished_at)
       SELECT gen_random_uuid(), $1, 'job-' || g, (ARRAY['local','worker','replicate'])[1 + g % 3], (ARRAY['completed','completed','completed','failed','cancelled'])[1 + g % 5],
              jsonb_build_object('max_train_steps', 1000, 'learning_rate', 0.0001, 'model_family', 'flux', 'note', repeat('x', 400)),
              '[{"id": "d", "type": "local", "instance_data_dir": "/data/d"}]', '{"step": 1000, "total": 1000, "loss": 0.1}', 12345,
              timestamptz '2026-01-01' + (g || ' seconds')::interval, timestamptz '2026-01-01' + (g || ' seconds')::interval, timestamptz '2026-01-01' + (g || ' seconds')::interval
       FROM generate_series(1, $2) g`,
      [o, Math.floor(JOBS / 2)],
    );
  }
  await pg.query('VACUUM ANALYZE jobs');

  const deep = async (status, offset) => (await pg.query(
    `SELECT id, created_at FROM jobs WHERE org_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id DESC OFFSET $3 LIMIT 1`,
    [org.id, status, offset])).rows[0];
  const cases = [
    { name: 'first page', status: null, cursor: null },
    { name: '1,000th page', status: null, cursor: await deep(null, PAGE * 999 - 1) },
    { name: 'status=failed, 200th page', status: 'failed', cursor: await deep('failed', PAGE * 199 - 1) },
  ];
  const http = async (c) => {
    const q = new URLSearchParams({ limit: String(PAGE), ...(c.status ? { status: c.status } : {}), ...(c.cursor ? { cursor: cursorOf(c.cursor) } : {}) });
    const t = performance.now();
    const r = await fetch(`${services.gatewayUrl}/api/cloud/jobs?${q}`, { headers: { authorization: `Bearer ${key}` } });
    const body = await r.json();
    const ms = performance.now() - t;
    if (r.status !== 200 || body.jobs.length !== PAGE) throw new Error(`list answered ${r.status} with ${body.jobs?.length} jobs`);
    return ms;
  };
  // The baseline: the same keyset query and the same page of rows, straight through pg.
  const direct = async (c) => {
    const t = performance.now();
    const where = ['org_id = $1', 'deleted_at IS NULL'];
    const values = [org.id];
    if (c.status) where.push(`status = $${values.push(c.status)}`);
    if (c.cursor) where.push(`(created_at, id) < ($${values.push(c.cursor.created_at)}::timestamptz, $${values.push(c.cursor.id)})`);
    const { rows } = await pg.query(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${PAGE + 1}`, values);
    const ms = performance.now() - t;
    if (rows.length !== PAGE + 1) throw new Error('baseline page short');
    return ms;
  };
  const results = [];
  for (const c of cases) {
    for (let i = 0; i < 20; i++) { await http(c); await direct(c); } // warm-up
    const api = [];
    const sql = [];
    for (let i = 0; i < REQUESTS; i++) { api.push(await http(c)); sql.push(await direct(c)); }
    results.push({ case: c.name, api: dist(api, 2), sql: dist(sql, 2) });
    say(`${c.name} done`);
  }

  console.log(`\n${JOBS} jobs in two organisations, ${PAGE} per page, ${REQUESTS} requests per case (alternated with the baseline)\n`);
  console.log('| case | API p50 | API p99 | same SQL through pg p50 | p99 |');
  console.log('|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.case} | ${r.api.p50} | ${r.api.p99} | ${r.sql.p50} | ${r.sql.p99} |`);
  mkdirSync(path.join(repoRoot, 'bench/out'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'bench/out/list.json'), JSON.stringify({ machine: machineInfo(), jobs: JOBS, requests: REQUESTS, results }, null, 2));
}

runBench(main, cleanups);

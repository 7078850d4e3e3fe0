// `npm run bench`: the packaging, submit and Replicate call-rate benchmarks, each in its own Node process
// with its output forwarded. They load the compiled code: run `npm run build` first. See docs/BENCHMARKS.md.
//   BENCH_ONLY=packaging|submit|replicate|admission|list|events   run just one of them (replicate takes ~20 min at full size)
//   BENCH_SIZES_MIB, BENCH_RUNS   packaging knobs (default 400,800 MiB, 3 runs)
//   BENCH_JOBS, BENCH_CONCURRENCY, BENCH_WORKERS, ...   submit knobs (bench/submit/submit.bench.mjs)
//   BENCH_JOBS, BENCH_WINDOW_S, BENCH_DROP, ...          replicate knobs (bench/replicate/replicate-calls.bench.mjs)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benches = [
  { name: 'packaging', file: 'bench/packaging/packaging.bench.mjs' },
  { name: 'submit', file: 'bench/submit/submit.bench.mjs' },
  { name: 'replicate', file: 'bench/replicate/replicate-calls.bench.mjs' },
  { name: 'admission', file: 'bench/admission/admission.bench.mjs' },
  { name: 'list', file: 'bench/list/list.bench.mjs' },
  { name: 'events', file: 'bench/events/events.bench.mjs' },
];
const only = process.env.BENCH_ONLY;
if (only && !benches.some((b) => b.name === only)) {
  process.stderr.write(`[bench] BENCH_ONLY must be one of ${benches.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}
if (!existsSync(path.join(root, 'apps/api-gateway/dist/main.js'))) {
  process.stderr.write('[bench] the services are not built; run `npm run build` first.\n');
  process.exit(2);
}

// Ctrl-C reaches the children too (same process group); they clean up (stop services, drop the database).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

let failed = 0;
for (const b of benches.filter((x) => !only || x.name === only)) {
  process.stdout.write(`\n[bench] ${b.name}: node ${b.file}\n\n`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, b.file)], { cwd: root, stdio: 'inherit', env: process.env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`\n[bench] ${b.name} FAILED (exit ${r.status ?? r.signal}) after ${seconds} s\n`);
  } else {
    process.stdout.write(`\n[bench] ${b.name} done in ${seconds} s\n`);
  }
}
process.exit(failed ? 1 : 0);

// Packaging benchmark: `zip -r` versus @ct/packaging on the same synthetic image dataset.
// Plain Node ESM (no ts-node in the repo); it loads the COMPILED library, so build first:
//   npx tsc -b libs/packaging        (or `npm run build`)
//   node bench/packaging/packaging.bench.mjs            # sizes 400,800 MiB, 3 runs each
//   BENCH_SIZES_MIB=50,100 BENCH_RUNS=3 node bench/packaging/packaging.bench.mjs
// Our packager runs in a child process so its peak RSS (resourceUsage().maxRSS) is its own.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const thisFile = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(thisFile), '..', '..');
const MiB = 1024 * 1024;
const TARGET_SPEEDUP = 5;
const TARGET_RSS_MIB = 200;

function loadPackaging() {
  try {
    return require('@ct/packaging');
  } catch (err) {
    console.error('Cannot load the compiled @ct/packaging; run `npx tsc -b libs/packaging` or `npm run build` first.');
    throw err;
  }
}

async function runChild(dir, out) {
  const { packageDatasets } = loadPackaging();
  const started = performance.now();
  const summary = await packageDatasets([{ id: 'bench', dir }], createWriteStream(out));
  const ms = performance.now() - started;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  process.stdout.write(JSON.stringify({ ms, files: summary.files, bytes: summary.bytes, archiveBytes: summary.archiveBytes, maxRssMiB }));
}

/** Incompressible "images" of 1-4 MiB plus a small caption each, until the total reaches sizeMiB. */
function generateDataset(dir, sizeMiB) {
  mkdirSync(path.join(dir, 'images'), { recursive: true });
  const buffer = Buffer.allocUnsafe(4 * MiB);
  let total = 0;
  let i = 0;
  while (total < sizeMiB * MiB) {
    const size = Math.min(MiB + Math.floor(Math.random() * 3 * MiB), sizeMiB * MiB - total);
    randomFillSync(buffer, 0, size);
    const name = `img-${String(i).padStart(5, '0')}`;
    writeFileSync(path.join(dir, 'images', `${name}.jpg`), buffer.subarray(0, size));
    const caption = `a photo of subject ${i}, ${'detailed '.repeat(5 + (i % 20))}\n`;
    writeFileSync(path.join(dir, 'images', `${name}.txt`), caption);
    total += size + Buffer.byteLength(caption);
    i++;
  }
  spawnSync('sync'); // no writeback of the fresh dataset during the timed runs
  return { files: i * 2, bytes: total };
}

function timed(command, args, options) {
  const started = performance.now();
  const result = spawnSync(command, args, { ...options, encoding: 'utf8', maxBuffer: 16 * MiB });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${command} failed (${result.status}): ${result.stderr}`);
  return { seconds, stdout: result.stdout };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function benchSize(sizeMiB, runs) {
  const work = mkdtempSync(path.join(os.tmpdir(), `ct-bench-${sizeMiB}-`));
  try {
    const dataset = generateDataset(path.join(work, 'dataset'), sizeMiB);
    const zipTimes = [];
    const ourTimes = [];
    const rss = [];
    let zipArchive = 0;
    let ourArchive = 0;
    for (let run = 0; run < runs; run++) {
      const zipOut = path.join(work, 'out.zip');
      zipTimes.push(timed('zip', ['-r', '-q', zipOut, 'dataset'], { cwd: work }).seconds);
      zipArchive = statSync(zipOut).size;
      rmSync(zipOut);
      spawnSync('sync');

      const ourOut = path.join(work, 'ours.zip');
      const child = timed(process.execPath, [thisFile, '--child', path.join(work, 'dataset'), ourOut], { cwd: repoRoot });
      const report = JSON.parse(child.stdout);
      ourTimes.push(child.seconds);
      rss.push(report.maxRssMiB);
      ourArchive = statSync(ourOut).size;
      rmSync(ourOut);
      spawnSync('sync');
    }
    const zipSeconds = median(zipTimes);
    const ourSeconds = median(ourTimes);
    const datasetMiB = dataset.bytes / MiB;
    return {
      sizeMiB,
      files: dataset.files,
      datasetMiB: round(datasetMiB),
      runs,
      zip: { medianSeconds: round(zipSeconds), mibPerSecond: round(datasetMiB / zipSeconds), archiveMiB: round(zipArchive / MiB), seconds: zipTimes.map(round) },
      ours: { medianSeconds: round(ourSeconds), mibPerSecond: round(datasetMiB / ourSeconds), archiveMiB: round(ourArchive / MiB), seconds: ourTimes.map(round), peakRssMiB: round(Math.max(...rss)), peakRssMedianMiB: round(median(rss)) },
      speedup: round(zipSeconds / ourSeconds),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function round(value) {
  return Math.round(value * 100) / 100;
}

function toMarkdown(results) {
  const lines = [
    '| dataset | files | zip -r (median s) | zip MiB/s | ours (median s) | ours MiB/s | speed-up zip/ours | ours peak RSS MiB (max of runs) | archive MiB zip / ours |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(`| ${r.datasetMiB} MiB | ${r.files} | ${r.zip.medianSeconds} | ${r.zip.mibPerSecond} | ${r.ours.medianSeconds} | ${r.ours.mibPerSecond} | ${r.speedup}x | ${r.ours.peakRssMiB} | ${r.zip.archiveMiB} / ${r.ours.archiveMiB} |`);
  }
  return lines.join('\n');
}

async function main() {
  loadPackaging(); // fail before generating hundreds of MiB when the build is missing
  const sizes = (process.env.BENCH_SIZES_MIB ?? '400,800').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const results = sizes.map((size) => benchSize(size, runs));
  const targetsMet = results.every((r) => r.speedup >= TARGET_SPEEDUP && r.ours.peakRssMiB <= TARGET_RSS_MIB);
  const machine = { nproc: os.cpus().length, totalMemGiB: round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}`, tmpdir: os.tmpdir() };
  const report = { benchmark: 'packaging', date: new Date().toISOString(), machine, targets: { speedup: TARGET_SPEEDUP, peakRssMiB: TARGET_RSS_MIB, met: targetsMet }, results };
  const markdown = toMarkdown(results);
  console.log(markdown);
  console.log(`\ntargets (>= ${TARGET_SPEEDUP}x faster than zip -r, peak RSS <= ${TARGET_RSS_MIB} MiB): ${targetsMet ? 'met' : 'NOT met'}`);
  const outDir = path.join(repoRoot, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'packaging.json'), `${JSON.stringify({ ...report, markdown }, null, 2)}\n`);
}

if (process.argv[2] === '--child') {
  await runChild(process.argv[3], process.argv[4]);
} else {
  await main();
}

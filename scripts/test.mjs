// `npm test`: build, then the three tiers. Unit and integration specs run in parallel workers; the
// end-to-end specs start whole stacks of processes, so they run one file at a time.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.TZ = 'UTC';
process.env.NX_DAEMON = 'false';
process.env.NX_NO_CLOUD = 'true';
const out = mkdtempSync(join(tmpdir(), 'ct-test-'));
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

if (run('npm', ['run', 'build']) !== 0) {
  console.error('build failed');
  process.exit(1);
}
// Lint includes the module-boundary rules that keep the dependency direction real.
if (run('npx', ['nx', 'run-many', '-t', 'lint', '--output-style=static']) !== 0) {
  console.error('lint failed');
  process.exit(1);
}
const tiers = [
  ['unit+integration', ['--selectProjects', 'unit', 'integration', '--maxWorkers=2']],
  ['e2e', ['--selectProjects', 'e2e', '--runInBand']],
  // The short fault run (20 jobs, 5 s outages); `npm run test:faults` runs the full one.
  ['faults', ['--selectProjects', 'faults', '--runInBand']],
];
let passed = 0;
let failed = 0;
let status = 0;
for (const [name, args] of tiers) {
  const file = join(out, `${name}.json`);
  const code = run(process.execPath, ['node_modules/jest/bin/jest.js', ...args, '--json', `--outputFile=${file}`, ...process.argv.slice(2)]);
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  } catch {
    failed += 1;
  }
  if (code !== 0) status = code;
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(status || (failed > 0 ? 1 : 0));

#!/usr/bin/env node
// Runs the Replicate simulator on its own, for demos and manual tests:
//   npx tsc -b libs/testing && node scripts/replicate-sim.mjs --port 8780
// Then point a client at http://127.0.0.1:8780/v1 with token r8_sim_token, and script it via /_sim/*
// (see docs/REPLICATE-SIMULATOR.md). Configuration comes from flags only: this is a test tool, not a service.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8780' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    speed: { type: 'string', default: '1' },
    'queue-ms': { type: 'string' },
    'duration-ms': { type: 'string' },
    'log-interval-ms': { type: 'string' },
    'page-size': { type: 'string' },
    'max-file-bytes': { type: 'string' },
    'webhook-secret': { type: 'string' },
    'admin-token': { type: 'string' },
    'no-rate-limit': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: node scripts/replicate-sim.mjs [--port 8780] [--host 127.0.0.1] [--token r8_x]... [--data-dir DIR]
  [--speed 1] [--queue-ms 1000] [--duration-ms 10000] [--log-interval-ms 1000] [--page-size 100]
  [--max-file-bytes 100000000] [--webhook-secret whsec_...] [--admin-token T] [--no-rate-limit]`);
  process.exit(0);
}

let sim;
try {
  ({ ReplicateSimulator: sim } = require(join(root, 'libs/testing/dist/replicate-sim/index.js')));
} catch (err) {
  console.error(`cannot load the compiled simulator (${err.message}); build it first: npx tsc -b libs/testing`);
  process.exit(1);
}

const num = (v) => (v === undefined ? undefined : Number(v));
const defaults = Object.fromEntries(
  [['queueMs', values['queue-ms']], ['durationMs', values['duration-ms']], ['logIntervalMs', values['log-interval-ms']]]
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, Number(v)]),
);

const simulator = new sim({
  port: Number(values.port),
  host: values.host,
  tokens: values.token,
  dataDir: values['data-dir'],
  speed: Number(values.speed),
  defaults,
  pageSize: num(values['page-size']),
  maxFileBytes: num(values['max-file-bytes']),
  webhookSecret: values['webhook-secret'],
  adminToken: values['admin-token'],
  rateLimit: values['no-rate-limit'] ? false : undefined,
  log: (line) => console.log(`[replicate-sim] ${line}`),
});

const { apiUrl, url } = await simulator.start();
console.log(`[replicate-sim] listening: baseUrl ${apiUrl}  token ${simulator.token}  control ${url}/_sim/state`);
console.log(`[replicate-sim] webhook secret ${simulator.webhookSecret()}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    simulator.stop().then(() => process.exit(0), () => process.exit(1));
  });
}

// `npm start`: the embedded default. Installs and builds when needed, finds Postgres and Redis, applies
// migrations, starts the five services and one local worker agent, and says where everything is.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const say = (m) => process.stdout.write(`[start] ${m}\n`);
const fail = (m) => {
  process.stderr.write(`[start] ${m}\n`);
  process.exit(1);
};

function run(cmd) {
  const r = spawnSync(cmd, { stdio: 'inherit', shell: true });
  if (r.status !== 0) fail(`"${cmd}" failed (exit ${r.status}).`);
}

if (!existsSync('node_modules/.package-lock.json')) {
  say('installing dependencies (first run)...');
  run('npm ci --no-audit --no-fund');
}
const built = existsSync('apps/api-gateway/dist/main.js') && statSync('apps/api-gateway/dist/main.js').mtimeMs > statSync('prisma/schema.prisma').mtimeMs;
if (!built || process.env.CT_REBUILD === '1') {
  say('building...');
  run('npm run build');
}

const stack = require('./stack.cjs');
const stateDir = process.env.SIMPLETUNER_STATE_DIR ?? join(homedir(), '.simpletuner');
const env = {
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  SIMPLETUNER_STATE_DIR: stateDir,
  // Local datasets may come from the user's home unless DATASET_ROOTS narrows (or widens) it.
  DATASET_ROOTS: process.env.DATASET_ROOTS ?? homedir(),
  PORT: process.env.PORT ?? '8001',
};

async function ensureBackingServices() {
  const pg = new URL(env.DATABASE_URL);
  const rd = new URL(env.REDIS_URL);
  const up = async () => [await stack.tcpReachable(pg.hostname, Number(pg.port || 5432)), await stack.tcpReachable(rd.hostname, Number(rd.port || 6379))];
  let [pgUp, redisUp] = await up();
  if (pgUp && redisUp) return;
  let docker = false;
  try {
    execSync('docker info', { stdio: 'ignore', timeout: 5000 });
    docker = true;
  } catch {
    /* no engine */
  }
  if (!docker) {
    fail(
      [
        `${!pgUp ? `PostgreSQL is not reachable at ${pg.host}` : ''}${!pgUp && !redisUp ? ' and ' : ''}${!redisUp ? `Redis is not reachable at ${rd.host}` : ''}.`,
        'Start them (Debian: apt-get install postgresql redis-server), or install Docker so this script can run',
        '"docker compose up -d postgres redis" for you, or set DATABASE_URL / REDIS_URL to servers you have.',
      ].join('\n  '),
    );
  }
  say('starting postgres and redis with docker compose...');
  run('docker compose up -d postgres redis');
  // The compose Postgres has its own credentials and database (docker-compose.yml).
  if (!process.env.DATABASE_URL) env.DATABASE_URL = 'postgresql://postgres:postgres@127.0.0.1:5432/cloud_trainer';
  for (let i = 0; i < 60 && !(pgUp && redisUp); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    [pgUp, redisUp] = await up();
  }
  if (!(pgUp && redisUp)) fail('postgres/redis from docker compose did not become reachable within 60 s.');
}

await ensureBackingServices();
say('applying migrations...');
const { migrate } = require('../libs/persistence/dist/index.js');
const result = await migrate(env.DATABASE_URL);
say(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already there`);

const logDir = join(stateDir, 'cloud', 'logs');
const echo = (name, line) => process.stdout.write(`${name.padEnd(12)} ${line}\n`);
// A service (or the worker) that dies is started again, with a back-off, and the log says so.
const services = await stack.startServices({ env, logDir, ports: 'fixed', echo, supervise: true, say });
const tokenFile = await stack.ensureWorker({ databaseUrl: env.DATABASE_URL, tokenFile: join(stateDir, 'cloud', 'local-worker-token'), name: 'local', labels: ['local'] });
const worker = stack.superviseWorker({ url: services.gatewayUrl, tokenFile, name: 'local', labels: ['local'], workDir: join(stateDir, 'cloud', 'work'), logDir, echo }, say);

say('');
say(`ready: ${services.gatewayUrl}   (API docs: ${services.gatewayUrl}/api/docs)`);
say(`admin API key: ${join(stateDir, 'cloud', 'admin-api-key')}`);
say(`logs: ${logDir}`);
say('stop with Ctrl-C');

// SIGINT (Ctrl-C) or SIGTERM, to this script or to npm (which passes it on): the worker first (it finishes
// or hands back its job), then every service. If this script dies anyway, the services notice (their IPC
// channel closes) and stop themselves.
let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  say(`stopping (${signal})...`);
  await worker.stop(15_000);
  await services.stop(10_000);
  say('stopped');
  process.exit(0);
};
// npm runs this script under `sh -c`, and on SIGTERM npm and the shell exit without passing the signal on:
// a launcher whose parent is gone stops too (its parent changes when it is orphaned).
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stop('its parent, npm, exited'), 500).unref();
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGHUP', () => void stop('SIGHUP'));

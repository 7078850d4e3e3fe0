// Starts the five services (and worker agents) as separate processes. Shared by `npm start` and the
// end-to-end tests so both run the system the same way.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SERVICES = [
  { name: 'storage', defaultPort: 8005, main: 'apps/storage/dist/main.js', portVar: 'STORAGE_PORT' },
  { name: 'api-gateway', defaultPort: 8001, main: 'apps/api-gateway/dist/main.js', portVar: 'PORT' },
  { name: 'packager', defaultPort: 8002, main: 'apps/packager/dist/main.js', portVar: 'PACKAGER_PORT' },
  { name: 'dispatcher', defaultPort: 8003, main: 'apps/dispatcher/dist/main.js', portVar: 'DISPATCHER_PORT' },
  { name: 'poller', defaultPort: 8004, main: 'apps/poller/dist/main.js', portVar: 'POLLER_PORT' },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tcpReachable(host, port, timeoutMs = 1500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function waitForHttp(url, timeoutMs, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null) throw new Error(`${url}: the process exited with code ${proc.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function spawnLogged(name, args, env, logDir, echo) {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = logDir ? fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' }) : null;
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.on('data', (chunk) => {
      log?.write(chunk);
      if (echo) for (const line of chunk.toString().split('\n')) if (line) echo(name, line);
    });
  }
  proc.on('exit', () => log?.end());
  return proc;
}

/** Assigns ports (free ones when `ports` is 'random'), starts every service, waits for /health. */
async function startServices({ env, logDir, echo, ports = 'random' }) {
  const full = { ...process.env, ...env };
  for (const s of SERVICES) if (!env[s.portVar] && (ports === 'random' || !full[s.portVar])) full[s.portVar] = String(ports === 'random' ? await freePort() : s.defaultPort);
  full.STORAGE_URL = `http://127.0.0.1:${full.STORAGE_PORT}`;
  if (logDir) fs.mkdirSync(logDir, { recursive: true });
  const procs = {};
  // storage and the gateway first (the gateway creates the default organisation), the rest in parallel.
  for (const group of [[SERVICES[0], SERVICES[1]], SERVICES.slice(2)]) {
    await Promise.all(
      group.map(async (s) => {
        procs[s.name] = spawnLogged(s.name, [s.main], full, logDir, echo);
        await waitForHttp(`http://127.0.0.1:${full[s.portVar]}/health`, 60_000, procs[s.name]);
      }),
    );
  }
  return { env: full, procs, gatewayUrl: `http://127.0.0.1:${full.PORT}`, stop: () => stopAll(Object.values(procs)) };
}

async function stopAll(procs, graceMs = 5000) {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
          p.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          p.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * Creates (or re-keys) the worker named `name` in the default organisation; writes its token 0600. This is
 * the operator's own tooling (direct database access), so it may give the `local` label (the embedded
 * worker's) and trusts the machine's reported GPU memory (`gpuMemoryGib`, default: no limit of its own).
 */
async function ensureWorker({ databaseUrl, tokenFile, name, labels, gpuMemoryGib = 1_000_000 }) {
  const { createPrismaClient, OrgRepository, WorkerRepository } = require(path.join(ROOT, 'libs/persistence/dist/index.js'));
  const prisma = createPrismaClient(databaseUrl, 2);
  try {
    const org = await new OrgRepository(prisma).findOrgBySlug('default');
    if (!org) throw new Error('the default organisation does not exist yet (start the gateway first)');
    const workers = new WorkerRepository(prisma);
    const existing = await workers.findByName(org.id, name);
    const { token } = existing ? await workers.rotateToken(org.id, existing.id) : await workers.create(org.id, name, labels, { allowLocal: true, gpuMemoryGib });
    fs.mkdirSync(path.dirname(tokenFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    fs.chmodSync(tokenFile, 0o600);
    return tokenFile;
  } finally {
    await prisma.$disconnect();
  }
}

function startWorker({ url, tokenFile, name, labels, workDir, logDir, echo, extraArgs = [], env = {} }) {
  const args = ['apps/worker-agent/dist/main.js', '--url', url, '--token-file', tokenFile, '--name', name, '--labels', labels.join(','), '--work-dir', workDir, ...extraArgs];
  return spawnLogged(`worker-${name}`, args, { ...process.env, ...env }, logDir, echo);
}

module.exports = { ROOT, SERVICES, freePort, tcpReachable, waitForHttp, startServices, stopAll, ensureWorker, startWorker };

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

/**
 * Spawns a service (or worker) with an IPC channel: a service exits when its channel closes, so it never
 * outlives this launcher, however the launcher ends (services/libs/service bootstrap watches it).
 */
function spawnLogged(name, args, env, logDir, echo) {
  // Its own process group: a Ctrl-C in the terminal reaches the launcher, which stops everything in order.
  // CT_PROFILE_DIR=<dir>: a V8 CPU profile per process, <name>.cpuprofile, written when it exits (docs/BENCHMARKS.md).
  const prof = process.env.CT_PROFILE_DIR ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.CT_PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const proc = spawn(process.execPath, [...prof, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  const log = logDir ? fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' }) : null;
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.on('data', (chunk) => {
      log?.write(chunk);
      if (echo) for (const line of chunk.toString().split('\n')) if (line) echo(name, line);
    });
  }
  proc.on('exit', () => log?.end());
  // The channel exists only for its close; nothing is sent on it.
  proc.channel?.unref();
  return proc;
}

/**
 * Keeps one process running: when it dies unexpectedly it is started again after a back-off (1 s doubling
 * to 30 s, reset once it has run for a minute), and `say` tells why. `stop()` ends it for good.
 */
function supervise(name, spawnOnce, say) {
  let current = spawnOnce();
  let stopping = false;
  let delayMs = 1000;
  let startedAt = Date.now();
  let timer = null;
  const handle = {
    name,
    restarts: 0,
    get current() {
      return current;
    },
    stop: async (graceMs) => {
      stopping = true;
      if (timer) clearTimeout(timer);
      await stopAll([current], graceMs);
    },
  };
  const watch = (proc) =>
    proc.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt > 60_000) delayMs = 1000;
      say(`${name} exited (${signal ?? `code ${code}`}); restarting it in ${Math.round(delayMs / 1000)} s`);
      timer = setTimeout(() => {
        if (stopping) return;
        handle.restarts++;
        startedAt = Date.now();
        current = spawnOnce();
        watch(current);
      }, delayMs);
      delayMs = Math.min(delayMs * 2, 30_000);
    });
  watch(current);
  return handle;
}

/**
 * Assigns ports (free ones when `ports` is 'random'), starts every service, waits for /health.
 * `replicas` runs several instances of a service (each on its own port); `supervise` restarts dead ones.
 * `procs[name]` is the first instance's process; `instances[name]` lists every instance.
 */
async function startServices({ env, logDir, echo, ports = 'random', supervise: restart = false, say = () => undefined, replicas = {} }) {
  const full = { ...process.env, ...env };
  for (const s of SERVICES) if (!env[s.portVar] && (ports === 'random' || !full[s.portVar])) full[s.portVar] = String(ports === 'random' ? await freePort() : s.defaultPort);
  full.STORAGE_URL = `http://127.0.0.1:${full.STORAGE_PORT}`;
  if (logDir) fs.mkdirSync(logDir, { recursive: true });
  const instances = {};
  const start = async (s, i) => {
    const port = i === 0 ? Number(full[s.portVar]) : await freePort();
    // Each gateway replica proxies to the storage replica of the same number (there is no load balancer here).
    const storage = instances.storage?.[i] ?? instances.storage?.[0];
    const envOf = { ...full, [s.portVar]: String(port), ...(storage ? { STORAGE_URL: `http://127.0.0.1:${storage.port}` } : {}) };
    const label = i === 0 ? s.name : `${s.name}-${i + 1}`;
    const spawnOnce = () => spawnLogged(label, [s.main], envOf, logDir, echo);
    const inst = wrap(port, restart ? supervise(label, spawnOnce, say) : fixed(spawnOnce));
    (instances[s.name] ??= []).push(inst);
    await waitForHttp(`http://127.0.0.1:${port}/health`, 60_000, inst.proc);
  };
  // storage and the gateway first (the gateway creates the default organisation), the rest in parallel.
  for (const group of [[SERVICES[0]], [SERVICES[1]], SERVICES.slice(2)]) {
    await Promise.all(group.flatMap((s) => Array.from({ length: replicas[s.name] ?? 1 }, (_, i) => start(s, i))));
  }
  const procs = new Proxy({}, { get: (_, name) => instances[name]?.[0]?.proc, ownKeys: () => Object.keys(instances), getOwnPropertyDescriptor: () => ({ enumerable: true, configurable: true }) });
  const all = () => Object.values(instances).flat();
  return {
    env: full,
    procs,
    instances,
    gatewayUrl: `http://127.0.0.1:${full.PORT}`,
    gatewayUrls: (instances['api-gateway'] ?? []).map((g) => `http://127.0.0.1:${g.port}`),
    stop: async (graceMs) => void (await Promise.all(all().map((inst) => inst.stop(graceMs)))),
  };
}

/** An unsupervised process, shaped like a supervised one; tests kill it and `respawn()` it themselves. */
function fixed(spawnOnce) {
  let proc = spawnOnce();
  return {
    get current() { return proc; },
    restarts: 0,
    respawn() {
      proc = spawnOnce();
      return proc;
    },
    stop: (graceMs) => stopAll([proc], graceMs),
  };
}

/** An instance: its port and its current process (a getter: the process changes on every restart). */
function wrap(port, handle) {
  return {
    port,
    handle,
    get proc() { return handle.current; },
    stop: (graceMs) => handle.stop(graceMs),
    /** Starts the instance again (same port and environment) after it was killed; resolves once it answers. */
    respawn: async function () {
      if (!handle.respawn) throw new Error('a supervised instance restarts by itself');
      const p = handle.respawn();
      await waitForHttp(`http://127.0.0.1:${this.port}/health`, 60_000, p);
      return p;
    },
  };
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

function workerArgs({ url, tokenFile, name, labels, workDir, extraArgs = [] }) {
  return ['apps/worker-agent/dist/main.js', '--url', url, '--token-file', tokenFile, '--name', name, '--labels', labels.join(','), '--work-dir', workDir, ...extraArgs];
}

function startWorker(opts) {
  return spawnLogged(`worker-${opts.name}`, workerArgs(opts), { ...process.env, ...(opts.env ?? {}) }, opts.logDir, opts.echo);
}

/** A worker agent that is started again when it dies (npm start's embedded worker). */
function superviseWorker(opts, say) {
  return supervise(`worker-${opts.name}`, () => startWorker(opts), say);
}

module.exports = { ROOT, SERVICES, freePort, tcpReachable, waitForHttp, startServices, stopAll, ensureWorker, startWorker, superviseWorker, spawnLogged };

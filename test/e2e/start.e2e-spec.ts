import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, eventually, freePort } from '@ct/testing';

jest.setTimeout(180_000);

/** Every process below `pid` (children, grandchildren, …), read from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

describe('npm start: one command runs everything, restarts what dies, and stops everything it started', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let base: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<string, number>;

  beforeAll(async () => {
    db = await createTestDatabase();
    base = mkdtempSync(join(tmpdir(), 'ct-start-'));
    ports = { PORT: await freePort(), STORAGE_PORT: await freePort(), PACKAGER_PORT: await freePort(), DISPATCHER_PORT: await freePort(), POLLER_PORT: await freePort() };
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      SIMPLETUNER_STATE_DIR: join(base, 'state'),
      DATASET_ROOTS: base,
      QUEUE_PREFIX: `ct-start-${randomBytes(4).toString('hex')}`,
      LOG_LEVEL: 'warn',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(base, { recursive: true, force: true });
  });

  async function start(): Promise<{ npm: ChildProcess; output: () => string }> {
    const npm = spawn('npm', ['start'], { cwd: join(__dirname, '..', '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await eventually(async () => out.includes('[start] ready') || npm.exitCode !== null, 120_000, 'npm start to be ready');
    expect(npm.exitCode).toBeNull();
    return { npm, output: () => out };
  }

  async function stopsEverything(npm: ChildProcess, target: number, signal: NodeJS.Signals): Promise<void> {
    const started = descendants(npm.pid!);
    // npm → sh? → node start.mjs → five services and the worker agent
    expect(started.filter((p) => /apps\/[a-z-]+\/dist\/main\.js/.test(cmdline(p))).length).toBeGreaterThanOrEqual(6);
    process.kill(target, signal);
    await eventually(async () => npm.exitCode !== null || npm.signalCode !== null, 60_000, 'npm to exit');
    await eventually(async () => started.every((p) => !alive(p)), 20_000, 'every started process to be gone');
  }

  it('SIGTERM to npm stops every service and the worker', async () => {
    const { npm } = await start();
    await stopsEverything(npm, npm.pid!, 'SIGTERM');
  });

  it('SIGINT to the start script itself stops every service and the worker, and a killed service is restarted', async () => {
    const { npm, output } = await start();
    const script = descendants(npm.pid!).find((p) => /^\S*node scripts\/start\.mjs/.test(cmdline(p)));
    expect(script).toBeDefined();
    const dispatcher = descendants(npm.pid!).find((p) => cmdline(p).includes('apps/dispatcher/dist/main.js'));
    expect(dispatcher).toBeDefined();
    process.kill(dispatcher!, 'SIGKILL');
    await eventually(async () => /dispatcher exited \(SIGKILL\); restarting it in 1 s/.test(output()), 10_000, 'the restart notice');
    await eventually(async () => {
      const again = descendants(npm.pid!).find((p) => cmdline(p).includes('apps/dispatcher/dist/main.js'));
      if (!again || again === dispatcher) return false;
      return (await fetch(`http://127.0.0.1:${ports.DISPATCHER_PORT}/health`).catch(() => null))?.ok ?? false;
    }, 30_000, 'the dispatcher to be back');
    await stopsEverything(npm, script!, 'SIGINT');
  });
});

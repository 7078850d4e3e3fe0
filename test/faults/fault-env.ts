import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from '@ct/testing';

/** Waits until `check` holds (polling), or throws after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The test's own Redis (never the shared one on 6379): no persistence, so a kill loses everything in it. */
export async function ownRedis(): Promise<{ url: string; kill: () => Promise<void>; start: () => Promise<void>; stop: () => Promise<void> }> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until(() => answers(port), 10_000, `redis on ${port}`);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}

const VERSION = () => readdirSync('/etc/postgresql')[0] ?? '15';

/**
 * The test's own Postgres cluster (pg_createcluster on a free port, trust auth on loopback), never the
 * shared one on 5432; `kill` SIGKILLs its postmaster, `start` brings it back (crash recovery), `drop`
 * removes it. Clusters a crashed earlier run left behind are removed first.
 */
export async function ownPostgres(): Promise<{ adminUrl: string; kill: () => Promise<void>; start: () => Promise<void>; drop: () => void }> {
  const version = VERSION();
  for (const stale of readdirSync(`/etc/postgresql/${version}`).filter((n) => n.startsWith('ctfault'))) {
    execFileSync('pg_dropcluster', [version, stale, '--stop'], { stdio: 'ignore' });
  }
  const port = await freePort();
  const name = `ctfault${port}`;
  execFileSync('pg_createcluster', [version, name, '-p', String(port), '--', '--auth=trust'], { stdio: 'ignore' });
  const pidFile = `/var/lib/postgresql/${version}/${name}/postmaster.pid`;
  const start = async () => {
    execFileSync('pg_ctlcluster', [version, name, 'start'], { stdio: 'ignore' });
    await until(() => answers(port), 30_000, `postgres on ${port}`);
  };
  const kill = async () => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    await until(async () => !(await answers(port)), 10_000, 'postgres to die');
  };
  await start();
  return { adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`, kill, start, drop: () => execFileSync('pg_dropcluster', [version, name, '--stop'], { stdio: 'ignore' }) };
}

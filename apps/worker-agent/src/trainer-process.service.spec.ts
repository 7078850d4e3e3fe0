import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainerProcess } from './trainer-process.service';

/** Starts `node -e script` and resolves once it printed "ready" (its signal handlers are installed by then). */
async function startNode(script: string, lines: string[] = []): Promise<TrainerProcess> {
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  const proc = await TrainerProcess.start({
    argv: [process.execPath, '-e', script],
    cwd: tmpdir(),
    env: { PATH: process.env.PATH },
    onLine: (stream, line) => {
      lines.push(`${stream}:${line}`);
      if (line === 'ready') markReady();
    },
  });
  await ready;
  return proc;
}

/** A zombie (dead, not yet reaped by a container's init) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('TrainerProcess', () => {
  jest.setTimeout(15_000);

  it('streams stdout and stderr lines and reports the exit code', async () => {
    const lines: string[] = [];
    const proc = await startNode('console.log("ready"); console.error("oops"); process.stdout.write("no newline"); process.exitCode = 7', lines);
    expect(await proc.exited).toEqual({ exitCode: 7, signal: null });
    expect(lines).toEqual(expect.arrayContaining(['stdout:ready', 'stderr:oops', 'stdout:no newline']));
  });

  it('stops a cooperative trainer with SIGTERM alone, well within the grace period', async () => {
    const proc = await startNode('process.on("SIGTERM", () => { console.log("bye"); process.exit(143); }); console.log("ready"); setInterval(() => {}, 1000)');
    const t0 = Date.now();
    const result = await proc.stop(5_000);
    const elapsed = Date.now() - t0;
    expect(result.killed).toBe(false);
    expect(result.exitCode).toBe(143);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('SIGKILLs a trainer that ignores SIGTERM once the grace period is over', async () => {
    const proc = await startNode('process.on("SIGTERM", () => console.log("ignoring")); console.log("ready"); setInterval(() => {}, 1000)');
    const t0 = Date.now();
    const result = await proc.stop(700);
    const elapsed = Date.now() - t0;
    expect(result.killed).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(result.exitCode).toBe(137);
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(4_000);
  });

  it('signals the whole process group, grandchildren included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-proc-'));
    try {
      const grandchild = `require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })`;
      const lines: string[] = [];
      const proc = await startNode(`const c = ${grandchild}; console.log("pid " + c.pid); console.log("ready"); setInterval(() => {}, 1000)`, lines);
      const pid = Number(lines.find((l) => l.startsWith('stdout:pid '))?.slice('stdout:pid '.length));
      await proc.stop(2_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(isAlive(pid)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a trainer command that cannot be spawned', async () => {
    await expect(TrainerProcess.start({ argv: ['/nonexistent/trainer'], cwd: tmpdir(), env: {}, onLine: () => undefined })).rejects.toThrow(
      /cannot start trainer/,
    );
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { LineSplitter } from './line-splitter.util';

export interface TrainerExit {
  /** The exit code, or 128 + signal number when the process was killed by a signal (shell convention). */
  exitCode: number;
  signal: NodeJS.Signals | null;
}

export interface TrainerStartOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
}

/** How long to wait for stdio to close after the process itself exited (a grandchild may hold the pipes). */
const STDIO_CLOSE_GRACE_MS = 2_000;

/**
 * A trainer child process in its own process group (detached), so stop() reaches the whole tree a
 * trainer may fork (dataloader workers, accelerate launchers): SIGTERM first, SIGKILL after a grace.
 */
export class TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  private exitInfo: TrainerExit | null = null;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        if (this.exitInfo) resolve(this.exitInfo);
      };
      child.once('exit', (code, signal) => {
        const signum = signal ? (constants.signals[signal] ?? 0) : 0;
        this.exitInfo = { exitCode: code ?? 128 + signum, signal };
        timer = setTimeout(finish, STDIO_CLOSE_GRACE_MS);
      });
      child.once('close', finish);
    });
  }

  static start(opts: TrainerStartOptions): Promise<TrainerProcess> {
    const [command, ...args] = opts.argv;
    if (!command) return Promise.reject(new Error('empty trainer command'));
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      const splitter = new LineSplitter((line) => opts.onLine(stream, line));
      child[stream]?.on('data', (chunk: Buffer) => splitter.write(chunk));
      child[stream]?.on('end', () => splitter.end());
    }
    // Resolve only once the spawn really happened, so a missing binary is reported as a start failure.
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(new TrainerProcess(child)));
      child.once('error', (err) => reject(new Error(`cannot start trainer ${command}: ${err.message}`)));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** SIGTERM to the group, then SIGKILL after graceMs; resolves with the exit and whether SIGKILL was needed. */
  async stop(graceMs: number): Promise<TrainerExit & { killed: boolean }> {
    if (!this.running) return { ...(await this.exited), killed: false };
    this.signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), graceMs)));
    const first = await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (first !== 'grace') return { ...first, killed: false };
    this.signalGroup('SIGKILL');
    return { ...(await this.exited), killed: true };
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already (ESRCH): fall back to the child itself in case it left the group.
      try {
        this.child.kill(signal);
      } catch {
        /* already dead */
      }
    }
  }
}

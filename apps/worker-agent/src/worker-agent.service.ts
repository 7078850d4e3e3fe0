import type { ClaimedJob, RegisterWorkerBody, RegisterWorkerResponse, WorkerCommand } from '@ct/contracts';
import type { Logger } from 'pino';
import type { AgentConfig } from './agent-config';
import type { GatewayClient } from './gateway-client.service';
import { StaleLeaseError, UnauthorizedError } from './gateway-errors';
import { JobRunner, type JobRunnerDeps } from './job-runner.service';
import { DEFAULT_RETRY_POLICY, sleep, withRetry, type RetryPolicy } from './retry.util';
import { probeStorage } from './storage-probe.util';

export interface WorkerAgentDeps {
  config: AgentConfig;
  gateway: GatewayClient;
  logger: Logger;
  registration: RegisterWorkerBody;
  s3Factory?: JobRunnerDeps['s3Factory'];
  /** shorter backoff delays (tests); the outage window itself is --outage-window-s */
  retryDelays?: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>;
}

/** Exit codes of the agent process (documented in docs/WORKER-PROTOCOL.md). */
export const EXIT = { ok: 0, jobFailed: 1, config: 2, unauthorized: 3 } as const;
const MIN_HEARTBEAT_MS = 1_000;

/** register → loop { claim → run job } with a heartbeat timer that carries the current job and brings commands. */
export class WorkerAgent {
  private current: JobRunner | null = null;
  private stopReason: string | null = null;
  private draining = false;
  private fatal: Error | null = null;
  private lastOutcome: string | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatFailures = 0;
  /** Aborted to interrupt a claim long-poll or a retry sleep when the agent must stop claiming. */
  private readonly idle = new AbortController();
  private readonly retry: RetryPolicy;

  constructor(private readonly deps: WorkerAgentDeps) {
    this.retry = { ...DEFAULT_RETRY_POLICY, ...deps.retryDelays, windowMs: deps.config.outageWindowS * 1000 };
  }

  async run(): Promise<number> {
    const registered = await this.register();
    if (registered) {
      this.deps.logger.info({ workerId: registered.workerId, labels: registered.labels, gpuMemoryGib: registered.gpuMemoryGib }, 'registered with the gateway');
      if (registered.ignoredLabels?.length) {
        this.deps.logger.warn({ ignoredLabels: registered.ignoredLabels }, 'the gateway ignores labels the admin did not give this worker; ask an admin to add them (PATCH /api/admin/workers/<id>)');
      }
      this.scheduleHeartbeat(Math.max(MIN_HEARTBEAT_MS, registered.heartbeatIntervalMs));
      await this.loop();
    }
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.fatal) this.deps.logger.error({ err: this.fatal.message }, 'worker agent giving up');
    if (this.fatal) return this.fatal instanceof UnauthorizedError ? EXIT.unauthorized : EXIT.jobFailed;
    if (this.stopReason === null && this.deps.config.once && this.lastOutcome !== null) return this.lastOutcome === 'completed' ? EXIT.ok : EXIT.jobFailed;
    return EXIT.ok;
  }

  /** Graceful stop (signal or shutdown command): the running trainer gets SIGTERM, then the agent exits. */
  stop(reason: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.deps.logger.info({ reason }, 'stopping');
    this.idle.abort();
    this.current?.abort('shutdown');
  }

  private drain(): void {
    this.deps.logger.info('drain requested: finishing the current job, then exiting');
    this.draining = true;
    this.idle.abort();
  }

  private failFatal(err: Error): void {
    this.fatal ??= err;
    this.idle.abort();
    this.current?.abort('unauthorized');
  }

  private shouldExit(): boolean {
    return this.stopReason !== null || this.draining || this.fatal !== null;
  }

  private async register(): Promise<RegisterWorkerResponse | null> {
    try {
      return await withRetry(() => this.deps.gateway.register(this.deps.registration), {
        signal: this.idle.signal,
        onRetry: (err, attempt, delay) => this.deps.logger.warn({ err: (err as Error).message, attempt, delay }, 'register failed, retrying'),
      });
    } catch (err) {
      if (!this.idle.signal.aborted) this.failFatal(err as Error);
      return null;
    }
  }

  private async loop(): Promise<void> {
    while (!this.shouldExit()) {
      const job = await this.claimNext();
      // A job claimed just as a drain arrived is still run: draining means finishing what was taken.
      if (!job || this.stopReason !== null || this.fatal !== null) continue;
      const runner = new JobRunner(job, this.runnerDeps());
      this.current = runner;
      const outcome = await runner.run();
      this.current = null;
      this.lastOutcome = outcome;
      this.deps.logger.info({ jobId: job.jobId, outcome }, 'job ended');
      if (outcome === 'unauthorized') this.failFatal(new UnauthorizedError('the gateway rejected the worker token during a job'));
      if (this.deps.config.once) break;
      if (runner.storageDown !== null) await this.waitForStorage(runner.storageDown);
    }
  }

  /**
   * After a job failed because storage stayed down for the whole outage window, the next job would fail
   * the same way at setup: claim nothing until storage answers again (other workers may take the jobs).
   */
  private async waitForStorage(endpoint: string): Promise<void> {
    if (this.shouldExit()) return;
    this.deps.logger.warn({ endpoint }, 'storage unreachable: claiming no job until it answers');
    try {
      await withRetry(() => probeStorage(endpoint), {
        signal: this.idle.signal,
        shouldRetry: () => true,
        baseDelayMs: this.retry.baseDelayMs,
        maxDelayMs: this.retry.maxDelayMs,
        onRetry: (err, attempt, delay) => this.deps.logger.debug({ err: (err as Error).message, attempt, delay }, 'storage still unreachable'),
      });
      this.deps.logger.info({ endpoint }, 'storage answers again; claiming jobs');
    } catch {
      // Only an abort ends the wait early: the agent is stopping or draining.
    }
  }

  private async claimNext(): Promise<ClaimedJob | null> {
    const signal = this.idle.signal;
    try {
      return await withRetry(() => this.deps.gateway.claim(this.deps.config.claimWaitMs, signal), {
        signal,
        onRetry: (err, attempt, delay) => this.deps.logger.warn({ err: (err as Error).message, attempt, delay }, 'claim failed, retrying'),
      });
    } catch (err) {
      if (signal.aborted) return null;
      if (err instanceof UnauthorizedError) {
        this.failFatal(err);
        return null;
      }
      // A permanent error on claim (bad response, 4xx) must not spin: wait, then try again.
      this.deps.logger.error({ err: (err as Error).message }, 'claim failed');
      await sleep(10_000, signal);
      return null;
    }
  }

  private runnerDeps(): JobRunnerDeps {
    const c = this.deps.config;
    return {
      gateway: this.deps.gateway,
      logger: this.deps.logger,
      workDir: c.workDir,
      trainerArgv: c.trainerArgv,
      trainerBaseEnv: c.trainerBaseEnv,
      cancelGraceMs: c.cancelGraceMs,
      logBatchMs: c.logBatchMs,
      keepJobDir: c.keepJobDirs,
      retry: this.retry,
      multipart: { thresholdBytes: c.multipartThresholdMib * 1024 * 1024, partBytes: c.partSizeMib * 1024 * 1024 },
      s3Factory: this.deps.s3Factory,
    };
  }

  private scheduleHeartbeat(intervalMs: number): void {
    this.heartbeatTimer = setTimeout(() => {
      void this.heartbeat().finally(() => {
        if (!this.idleAndExiting()) this.scheduleHeartbeat(intervalMs);
      });
    }, intervalMs);
  }

  /** Heartbeats continue while a job finishes during drain/stop; they end once nothing runs. */
  private idleAndExiting(): boolean {
    return this.shouldExit() && this.current === null;
  }

  private async heartbeat(): Promise<void> {
    const runner = this.current;
    const body = runner ? { jobId: runner.job.jobId, fence: runner.job.fence } : {};
    try {
      const commands = await this.deps.gateway.heartbeat(body);
      if (this.heartbeatFailures > 0) this.deps.logger.info({ failed: this.heartbeatFailures }, 'heartbeats delivered again');
      this.heartbeatFailures = 0;
      for (const command of commands) this.handle(command);
    } catch (err) {
      if (err instanceof StaleLeaseError) runner?.abort('lost');
      else if (err instanceof UnauthorizedError) this.failFatal(err);
      else this.heartbeatFailed(err as Error);
    }
  }

  /** Every tick tries again (nothing gives up on heartbeats); only the first failure of a streak is a warning. */
  private heartbeatFailed(err: Error): void {
    this.heartbeatFailures++;
    const level = this.heartbeatFailures === 1 ? 'warn' : 'debug';
    this.deps.logger[level]({ err: err.message, failures: this.heartbeatFailures }, 'heartbeat failed');
  }

  private handle(command: WorkerCommand): void {
    this.deps.logger.info({ command }, 'command from gateway');
    if (command.type === 'cancel') {
      if (this.current?.job.jobId === command.jobId) this.current.abort('cancel');
    } else if (command.type === 'drain') {
      this.drain();
    } else {
      this.stop(`shutdown command${command.reason ? `: ${command.reason}` : ''}`);
    }
  }
}

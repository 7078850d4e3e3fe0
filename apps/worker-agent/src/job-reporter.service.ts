import type { JobReportBody, ProgressReport } from '@ct/contracts';
import type { Logger } from 'pino';
import type { GatewayClient } from './gateway-client.service';
import { StaleLeaseError, UnauthorizedError, isTransient } from './gateway-errors';
import { LogBatcher, type BatchedLine } from './log-batcher.service';
import { truncateLine } from './line-splitter.util';
import { OutageWindow } from './outage-window.util';
import { Throttle } from './progress-throttle.service';
import { withRetry, type RetryPolicy } from './retry.util';

export type LeaseProblem = 'lost' | 'unauthorized';
const TAIL_LINES = 20;
const MAX_MESSAGE_CHARS = 4000;
const PROGRESS_INTERVAL_MS = 500;
/** A progress report is superseded by the next one, so it is not worth a long retry. */
const PROGRESS_ATTEMPTS = 2;

export interface JobReporterOptions {
  gateway: GatewayClient;
  logger: Logger;
  jobId: string;
  fence: number;
  logBatchMs: number;
  retry: RetryPolicy;
  /** Aborted when the job stops (shutdown, cancel): a report retrying within the window then gives up. */
  signal: AbortSignal;
  /** Called once when a call shows the lease is gone (409 stale_lease) or the token is rejected (401). */
  onLeaseProblem: (problem: LeaseProblem, err: Error) => void;
}

/**
 * Everything the agent tells the gateway about one job, under that job's fence: log batches, throttled
 * progress, started/completed/failed. Log batches and reports share one outage window, so a job's final
 * delivery waits at most one window however the gateway fails. After a lease problem it goes silent.
 */
export class JobReporter {
  private readonly batcher: LogBatcher;
  private readonly progress: Throttle<ProgressReport>;
  private readonly tail: string[] = [];
  private readonly outage: OutageWindow;
  private silenced = false;
  /** Reports go out one after another, so 'started' always precedes progress and the end. */
  private reportChain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: JobReporterOptions) {
    this.outage = new OutageWindow(opts.retry.windowMs);
    this.batcher = new LogBatcher({
      maxLines: 200,
      maxDelayMs: opts.logBatchMs,
      send: (lines, seq) => this.once(() => opts.gateway.sendLogs(opts.jobId, { fence: opts.fence, seq, lines })),
      isTransient,
      abandon: opts.signal,
      delays: opts.retry,
      outage: this.outage,
      onDropped: (count, reason, err) => this.onLogsDropped(count, reason, err),
    });
    this.progress = new Throttle(PROGRESS_INTERVAL_MS, (p) => this.report({ kind: 'progress', progress: p }, PROGRESS_ATTEMPTS).catch(() => undefined));
  }

  log(stream: BatchedLine['stream'], line: string): void {
    const text = truncateLine(line);
    if (stream !== 'system') {
      this.tail.push(text);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
    this.batcher.push(stream, text);
  }

  updateProgress(p: ProgressReport): void {
    this.progress.update(p);
  }

  /** Last trainer output lines, for the failure message (trimmed from the front to fit the limit). */
  tailText(): string {
    const text = this.tail.join('\n');
    return text.length <= MAX_MESSAGE_CHARS - 200 ? text : text.slice(text.length - (MAX_MESSAGE_CHARS - 200));
  }

  /**
   * Sends the last progress and every waiting log line; call before the terminal report. The final
   * delivery (these and the report) gets a whole outage window even if the gateway was failing already.
   */
  async drain(): Promise<void> {
    this.outage.restart();
    await this.progress.flush();
    await this.batcher.close();
  }

  silence(): void {
    this.silenced = true;
    this.progress.cancel();
    this.batcher.stop();
  }

  /**
   * Retried within the outage window, and stopped by the job's abort; or, with `attempts`, that many times
   * whatever happens (short enough for a shutdown). Rejects when it could not be delivered.
   */
  report(body: Omit<JobReportBody, 'fence'>, attempts?: number): Promise<void> {
    const run = this.reportChain.then(() => this.sendReport(body, attempts));
    this.reportChain = run.catch(() => undefined);
    return run;
  }

  private async sendReport(body: Omit<JobReportBody, 'fence'>, attempts: number | undefined): Promise<void> {
    if (this.silenced) return;
    const message = body.message && body.message.length > MAX_MESSAGE_CHARS ? body.message.slice(0, MAX_MESSAGE_CHARS) : body.message;
    const send = (): Promise<void> => this.once(() => this.opts.gateway.report(this.opts.jobId, { ...body, message, fence: this.opts.fence }));
    await withRetry(send, {
      maxAttempts: attempts,
      baseDelayMs: this.opts.retry.baseDelayMs,
      maxDelayMs: this.opts.retry.maxDelayMs,
      outage: this.outage,
      what: `report ${body.kind}`,
      signal: attempts === undefined ? this.opts.signal : undefined,
      onRetry: (err, attempt, delay) => this.opts.logger.warn({ err: (err as Error).message, attempt, delay, kind: body.kind }, 'report failed, retrying'),
    });
  }

  /** One call; a lease problem silences the reporter and tells the runner. */
  private async once(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof StaleLeaseError) this.leaseProblem('lost', err);
      else if (err instanceof UnauthorizedError) this.leaseProblem('unauthorized', err);
      throw err;
    }
  }

  private leaseProblem(problem: LeaseProblem, err: Error): void {
    if (this.silenced) return;
    this.silence();
    this.opts.onLeaseProblem(problem, err);
  }

  private onLogsDropped(count: number, reason: string, err: unknown): void {
    if (err instanceof StaleLeaseError || err instanceof UnauthorizedError) return;
    this.opts.logger.warn({ dropped: count, reason, err: err instanceof Error ? err.message : undefined }, 'log lines dropped');
  }
}

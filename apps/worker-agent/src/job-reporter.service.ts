import type { JobReportBody, ProgressReport } from '@ct/contracts';
import type { Logger } from 'pino';
import type { GatewayClient } from './gateway-client.service';
import { StaleLeaseError, UnauthorizedError } from './gateway-errors';
import { LogBatcher, type BatchedLine } from './log-batcher.service';
import { truncateLine } from './line-splitter.util';
import { Throttle } from './progress-throttle.service';
import { withRetry } from './retry.util';

export type LeaseProblem = 'lost' | 'unauthorized';
const TAIL_LINES = 20;
const MAX_MESSAGE_CHARS = 4000;
const PROGRESS_INTERVAL_MS = 500;

export interface JobReporterOptions {
  gateway: GatewayClient;
  logger: Logger;
  jobId: string;
  fence: number;
  logBatchMs: number;
  /** Called once when a call shows the lease is gone (409 stale_lease) or the token is rejected (401). */
  onLeaseProblem: (problem: LeaseProblem, err: Error) => void;
}

/**
 * Everything the agent tells the gateway about one job, under that job's fence: log batches,
 * throttled progress, started/completed/failed. After a lease problem it goes silent.
 */
export class JobReporter {
  private readonly batcher: LogBatcher;
  private readonly progress: Throttle<ProgressReport>;
  private readonly tail: string[] = [];
  private silenced = false;
  /** Reports go out one after another, so 'started' always precedes progress and the end. */
  private reportChain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: JobReporterOptions) {
    this.batcher = new LogBatcher({
      maxLines: 200,
      maxDelayMs: opts.logBatchMs,
      send: (lines) => this.sendLogs(lines),
      onError: (err, lines) => this.onLogError(err, lines),
    });
    this.progress = new Throttle(PROGRESS_INTERVAL_MS, (p) => this.report({ kind: 'progress', progress: p }, 2).catch(() => undefined));
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

  /** Sends the last progress and every waiting log line; call before the terminal report. */
  async drain(): Promise<void> {
    await this.progress.flush();
    await this.batcher.close();
  }

  silence(): void {
    this.silenced = true;
    this.progress.cancel();
  }

  report(body: Omit<JobReportBody, 'fence'>, attempts = 8): Promise<void> {
    const run = this.reportChain.then(() => this.sendReport(body, attempts));
    this.reportChain = run.catch(() => undefined);
    return run;
  }

  private async sendReport(body: Omit<JobReportBody, 'fence'>, attempts: number): Promise<void> {
    if (this.silenced) return;
    const message = body.message && body.message.length > MAX_MESSAGE_CHARS ? body.message.slice(0, MAX_MESSAGE_CHARS) : body.message;
    await this.call(() => this.opts.gateway.report(this.opts.jobId, { ...body, message, fence: this.opts.fence }), attempts);
  }

  private async sendLogs(lines: BatchedLine[]): Promise<void> {
    if (this.silenced) return;
    await this.call(() => this.opts.gateway.sendLogs(this.opts.jobId, { fence: this.opts.fence, lines }), 4);
  }

  private async call(fn: () => Promise<void>, attempts: number): Promise<void> {
    try {
      await withRetry(fn, {
        maxAttempts: attempts,
        onRetry: (err, n, delay) => this.opts.logger.warn({ err: (err as Error).message, attempt: n, delay }, 'gateway call failed, retrying'),
      });
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

  private onLogError(err: unknown, lines: BatchedLine[]): void {
    if (err instanceof StaleLeaseError || err instanceof UnauthorizedError) return;
    this.opts.logger.warn({ err: (err as Error).message, dropped: lines.length }, 'could not deliver a log batch; lines dropped');
  }
}

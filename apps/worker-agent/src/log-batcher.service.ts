import type { OutageWindow } from './outage-window.util';
import { backoffDelay, sleep } from './retry.util';

export interface BatchedLine {
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
  ts: string;
}

/** About 16 MiB of text: hours of ordinary trainer output, and little memory next to a training run. */
export const DEFAULT_MAX_BUFFERED_CHARS = 16 * 1024 * 1024;

export interface LogBatcherOptions {
  /** Send when this many lines are waiting (the protocol allows at most 1000 per batch). */
  maxLines: number;
  /** Send at the latest this long after the first waiting line arrived. */
  maxDelayMs: number;
  /** Unsent text kept while the gateway does not take lines; beyond it the oldest unsent lines go. */
  maxBufferedChars?: number;
  /** `seq` numbers batches 1, 2, …; a batch sent again keeps its number, so the gateway stores it once. */
  send: (lines: BatchedLine[], seq: number) => Promise<void>;
  /** A failed send is retried (with backoff) when this says so; otherwise that batch is dropped. */
  isTransient: (err: unknown) => boolean;
  delays: { baseDelayMs: number; maxDelayMs: number };
  /** shared with the job's reports; once closing, delivery gives up when it is exhausted */
  outage: OutageWindow;
  /** Aborted when the job is being stopped: a failed send is then dropped instead of retried. */
  abandon?: AbortSignal;
  /** lines that will never be sent, and why (for the agent's own log) */
  onDropped: (count: number, reason: string, err?: unknown) => void;
}

/**
 * Groups log lines into batches by count and time and sends them one batch at a time, in order. A batch
 * that fails for a transient reason is sent again (it is not dropped) for as long as the trainer runs;
 * close() waits for every line, giving up only once the outage window is used up.
 */
export class LogBatcher {
  private queue: BatchedLine[] = [];
  private queuedChars = 0;
  /** lines dropped to stay within the bound, not yet announced in the log itself */
  private droppedUnannounced = 0;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private pumping: Promise<void> | null = null;
  private closing = false;
  private readonly stopped = new AbortController();
  /** wakes a retry sleep when the batcher is stopped or the job abandoned */
  private readonly wake: AbortSignal;

  constructor(private readonly opts: LogBatcherOptions) {
    if (opts.maxLines < 2 || opts.maxLines > 1000) throw new RangeError('maxLines must be within 2..1000');
    this.wake = opts.abandon ? AbortSignal.any([this.stopped.signal, opts.abandon]) : this.stopped.signal;
  }

  push(stream: BatchedLine['stream'], line: string, ts = new Date().toISOString()): void {
    if (this.closing || this.stopped.signal.aborted) return;
    this.queue.push({ stream, line, ts });
    this.queuedChars += line.length;
    this.enforceBound();
    if (this.queue.length >= this.opts.maxLines) this.kick();
    else if (!this.timer && !this.pumping) this.timer = setTimeout(() => this.kick(), this.opts.maxDelayMs);
  }

  /** Sends what is waiting now; resolves once everything pushed so far is delivered (or dropped). */
  async flush(): Promise<void> {
    this.kick();
    while (this.pumping) await this.pumping;
  }

  /** Stops accepting lines and delivers the rest, within the outage window. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
  }

  /** Drops everything at once (the lease is gone: nothing more may be sent). */
  stop(): void {
    this.stopped.abort();
    if (this.timer) clearTimeout(this.timer);
    this.queue = [];
    this.queuedChars = 0;
  }

  get pending(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pumping || this.queue.length === 0) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      // Lines that arrived during the last send wait at most maxDelayMs, as usual.
      if (this.queue.length > 0 && !this.timer) this.timer = setTimeout(() => this.kick(), this.opts.maxDelayMs);
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped.signal.aborted) {
      const batch = this.takeBatch();
      if (!(await this.deliver(batch, ++this.seq))) this.dropQueue();
    }
  }

  private takeBatch(): BatchedLine[] {
    const marker = this.droppedUnannounced > 0 ? [this.dropMarker()] : [];
    const lines = this.queue.splice(0, this.opts.maxLines - marker.length);
    for (const l of lines) this.queuedChars -= l.line.length;
    return [...marker, ...lines];
  }

  /** False when delivery gave up for good (closing and the outage window is used up). */
  private async deliver(batch: BatchedLine[], seq: number): Promise<boolean> {
    for (let attempt = 1; !this.stopped.signal.aborted; attempt++) {
      try {
        await this.opts.send(batch, seq);
        this.opts.outage.answered();
        return true;
      } catch (err) {
        if (!this.opts.isTransient(err)) {
          this.opts.outage.answered();
          this.opts.onDropped(batch.length, 'the gateway refused the batch', err);
          return true;
        }
        this.opts.outage.failed();
        if (this.opts.abandon?.aborted) {
          this.opts.onDropped(batch.length, 'the job is being stopped', err);
          return true;
        }
        if (this.closing && this.opts.outage.exhausted) {
          this.opts.onDropped(batch.length + this.queue.length, 'the gateway stayed unreachable for the whole outage window', err);
          return false;
        }
        const delay = backoffDelay(attempt, this.opts.delays.baseDelayMs, this.opts.delays.maxDelayMs);
        await sleep(this.closing ? Math.min(delay, this.opts.outage.remainingMs()) : delay, this.wake);
      }
    }
    return true;
  }

  private dropQueue(): void {
    this.queue = [];
    this.queuedChars = 0;
  }

  private enforceBound(): void {
    const max = this.opts.maxBufferedChars ?? DEFAULT_MAX_BUFFERED_CHARS;
    while (this.queuedChars > max && this.queue.length > 1) {
      const oldest = this.queue.shift()!;
      this.queuedChars -= oldest.line.length;
      this.droppedUnannounced++;
    }
  }

  private dropMarker(): BatchedLine {
    const n = this.droppedUnannounced;
    this.droppedUnannounced = 0;
    this.opts.onDropped(n, 'the unsent-log buffer was full');
    const line = `[worker agent] ${n} earlier log line(s) dropped here: the gateway did not take them for a while and the agent keeps only so much unsent output`;
    return { stream: 'system', line, ts: new Date().toISOString() };
  }
}

export interface BatchedLine {
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
  ts: string;
}

export interface LogBatcherOptions {
  /** Send when this many lines are waiting (the protocol allows at most 1000 per batch). */
  maxLines: number;
  /** Send at the latest this long after the first waiting line arrived. */
  maxDelayMs: number;
  send: (lines: BatchedLine[]) => Promise<void>;
  onError: (err: unknown, lines: BatchedLine[]) => void;
}

/**
 * Groups log lines into batches by count and time. Sends run one at a time so the gateway sees lines
 * in order; close() waits for everything pushed before it, so the tail of a run is never lost.
 */
export class LogBatcher {
  private buffer: BatchedLine[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: LogBatcherOptions) {
    if (opts.maxLines < 1 || opts.maxLines > 1000) throw new RangeError('maxLines must be within 1..1000');
  }

  push(stream: BatchedLine['stream'], line: string, ts = new Date().toISOString()): void {
    if (this.closed) return;
    this.buffer.push({ stream, line, ts });
    if (this.buffer.length >= this.opts.maxLines) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.opts.maxDelayMs);
  }

  /** Sends what is waiting now; resolves once it (and every earlier batch) has been handed off. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.buffer.length > 0) {
      const lines = this.buffer;
      this.buffer = [];
      this.chain = this.chain.then(() => this.sendSafely(lines));
    }
    return this.chain;
  }

  /** Flushes the tail and stops accepting lines. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  get pending(): number {
    return this.buffer.length;
  }

  private async sendSafely(lines: BatchedLine[]): Promise<void> {
    try {
      await this.opts.send(lines);
    } catch (err) {
      this.opts.onError(err, lines);
    }
  }
}

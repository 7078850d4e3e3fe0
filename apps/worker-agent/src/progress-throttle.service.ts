/**
 * Forwards at most one value per interval; the newest value always goes out eventually (trailing
 * send), and flush() sends a pending one immediately. Sends never overlap.
 */
export class Throttle<T> {
  private pending: { value: T } | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs: number,
    private readonly send: (value: T) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  update(value: T): void {
    this.pending = { value };
    if (this.timer) return;
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) void this.sendPending();
    else this.timer = setTimeout(() => void this.sendPending(), wait);
  }

  flush(): Promise<void> {
    return this.sendPending();
  }

  /** Drops anything pending (used when the job is cancelled or lost). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private sendPending(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending) {
      const { value } = this.pending;
      this.pending = null;
      this.lastSentAt = this.now();
      this.chain = this.chain.then(() => this.send(value)).catch(() => undefined);
    }
    return this.chain;
  }
}

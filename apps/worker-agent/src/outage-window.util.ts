/**
 * How long one dependency has been failing, as one stream of calls sees it: from the first failure since
 * it last answered. Calls give up once this reaches the window (`--outage-window-s`), so an outage shorter
 * than the window only slows a job down. Several calls (a job's log batches and its reports, say) share one
 * window, so they do not each wait a whole window one after the other.
 */
export class OutageWindow {
  private failingSince: number | null = null;

  constructor(
    readonly windowMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The dependency answered (success, or a definite answer such as 404): the outage, if any, is over. */
  answered(): void {
    this.failingSince = null;
  }

  failed(): void {
    this.failingSince ??= this.now();
  }

  get failing(): boolean {
    return this.failingSince !== null;
  }

  failingForMs(): number {
    return this.failingSince === null ? 0 : this.now() - this.failingSince;
  }

  /** Time left before giving up (the whole window while nothing fails). */
  remainingMs(): number {
    return Math.max(0, this.windowMs - this.failingForMs());
  }

  get exhausted(): boolean {
    return this.failing && this.remainingMs() === 0;
  }

  /** Gives an ongoing outage a whole window from now: a job's final delivery gets its own window. */
  restart(): void {
    if (this.failingSince !== null) this.failingSince = this.now();
  }
}

/** A call kept failing transiently for the whole outage window. */
export class OutageError extends Error {
  constructor(
    readonly what: string,
    readonly failingForMs: number,
    cause: unknown,
    describe: (err: unknown) => string = (e) => (e as Error).message,
  ) {
    super(`${what} still failing after ${Math.round(failingForMs / 1000)} s of retries: ${describe(cause)}`, { cause });
    this.name = 'OutageError';
  }
}

import { isTransient } from './gateway-errors';
import { OutageError, type OutageWindow } from './outage-window.util';

/** Backoff delays and the outage window (docs/WORKER-PROTOCOL.md, "Outages"). */
export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** how long a dependency may keep failing before the agent gives up on what it was doing */
  windowMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 500, maxDelayMs: 10_000, windowMs: 600_000 };

export interface RetryOptions {
  /** Give up after this many attempts (default: never, until the signal aborts or the window is used up). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Records answers and failures; retries stop with an OutageError once it is exhausted. */
  outage?: OutageWindow;
  /** names the call in an OutageError, e.g. "download of datasets/x.zip" */
  what?: string;
  /** turns an error into a short text for an OutageError */
  describe?: (err: unknown) => string;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  shouldRetry?: (err: unknown) => boolean;
}

/** Resolves after ms, or early (without rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // Jitter keeps a fleet of workers from hammering a gateway that just came back, all at once.
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

/**
 * Runs fn, retrying transient errors with capped exponential backoff and jitter. A permanent error is
 * thrown at once; with an outage window, the last attempt falls on the window's end, then OutageError.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const shouldRetry = opts.shouldRetry ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn();
      opts.outage?.answered();
      return value;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (!shouldRetry(err)) {
        opts.outage?.answered();
        throw err;
      }
      opts.outage?.failed();
      if (opts.outage?.exhausted) throw new OutageError(opts.what ?? 'call', opts.outage.failingForMs(), err, opts.describe);
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) throw err;
      const backoff = backoffDelay(attempt, opts.baseDelayMs ?? 500, opts.maxDelayMs ?? 10_000);
      const delay = Math.min(backoff, opts.outage?.remainingMs() ?? backoff);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}

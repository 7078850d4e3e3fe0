import { isTransient } from './gateway-errors';

export interface RetryOptions {
  /** Give up after this many attempts (default: never, until the signal aborts). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
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

/** Runs fn, retrying transient gateway errors with capped exponential backoff. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const shouldRetry = opts.shouldRetry ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const exhausted = opts.maxAttempts !== undefined && attempt >= opts.maxAttempts;
      if (!shouldRetry(err) || exhausted || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, opts.baseDelayMs ?? 500, opts.maxDelayMs ?? 10_000);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}

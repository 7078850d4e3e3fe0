import Replicate from 'replicate';
import { DomainError } from '@ct/job-domain';
import { classifyError, ReplicateProviderError } from './replicate-errors';
import { guardCreates } from './resend.guard';
import type { ReplicatePluginOptions } from './replicate.types';

export const DEFAULT_BASE_URL = 'https://api.replicate.com/v1';
export const MISSING_TOKEN_MESSAGE =
  'REPLICATE_API_TOKEN not set: set the REPLICATE_API_TOKEN environment variable for the dispatcher, poller and gateway, ' +
  'or store a token with PUT /api/cloud/providers/replicate/config {"token":"r8_..."}.';

/** Replicate's 404 means "gone" for get/cancel/delete: an answer, not a failure. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ReplicateProviderError && err.status === 404;
}

/**
 * The `replicate` client with our retry layer: the client re-sends 429s (and 5xx on GET) back to back with
 * no pause, and re-sends a create whose connection dropped (guardCreates stops that). `call` backs off and
 * classifies errors; a wait longer than `maxRetryWaitMs` is handed to the queue instead.
 */
export class ReplicateApi {
  private readonly client: Replicate | null;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: Pick<ReplicatePluginOptions, 'token' | 'baseUrl' | 'fetch' | 'retryAttempts' | 'maxRetryWaitMs' | 'sleep'>) {
    const fetchFn = guardCreates(opts.fetch ?? globalThis.fetch);
    this.client = opts.token ? new Replicate({ auth: opts.token, baseUrl: opts.baseUrl ?? DEFAULT_BASE_URL, fetch: fetchFn }) : null;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get configured(): boolean {
    return this.client !== null;
  }

  raw(): Replicate {
    if (!this.client) throw new DomainError('provider_not_configured', MISSING_TOKEN_MESSAGE, { provider: 'replicate', setting: 'REPLICATE_API_TOKEN' });
    return this.client;
  }

  async call<T>(what: string, fn: (c: Replicate) => Promise<T>): Promise<T> {
    const client = this.raw();
    const attempts = this.opts.retryAttempts ?? 3;
    for (let i = 1; ; i++) {
      try {
        return await fn(client);
      } catch (err) {
        const e = classifyError(err, what);
        const wait = this.backoff(i, e.retryAfterMs);
        if (!e.retryable || e.ambiguous || i >= attempts || wait === null) throw e;
        await this.sleep(wait);
      }
    }
  }

  /** Like `call`, but Replicate's 404 answers null. */
  async orNull<T>(what: string, fn: (c: Replicate) => Promise<T>): Promise<T | null> {
    try {
      return await this.call(what, fn);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** null: longer than we will wait in-process; the queue should re-delay the step by `retryAfterMs`. */
  backoff(attempt: number, retryAfterMs: number | undefined): number | null {
    const wait = Math.max(retryAfterMs ?? 0, 250 * 2 ** attempt);
    return wait > (this.opts.maxRetryWaitMs ?? 5_000) ? null : wait;
  }

  wait(ms: number): Promise<void> {
    return this.sleep(ms);
  }
}

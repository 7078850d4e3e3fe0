import { ProviderError } from '@ct/providers-core';

/**
 * Turning what the `replicate` client throws into ProviderError(retryable, retryAfterMs).
 *
 * The client throws `ApiError` for a non-2xx answer, with the body already read: the status is on
 * `err.response.status`, the problem+json only inside `err.message`
 * ("Request to <url> failed with status 429 Too Many Requests: {...}."). A network failure surfaces as the
 * fetch's own TypeError ("fetch failed").
 */
export class ReplicateProviderError extends ProviderError {
  constructor(
    message: string,
    retryable: boolean,
    retryAfterMs: number | undefined,
    /** HTTP status, or null for network errors */
    readonly status: number | null,
    /** true when a create may have reached Replicate although we got no answer (see docs/PROVIDERS.md) */
    readonly ambiguous = false,
  ) {
    super(message, retryable, retryAfterMs);
    this.name = 'ReplicateProviderError';
  }
}

/** Thrown by the fetch guard instead of re-sending a create whose first send may have been received. */
export class ResendBlockedError extends Error {
  constructor(readonly original: unknown) {
    super('not re-sending a create whose previous send may have reached Replicate');
    this.name = 'ResendBlockedError';
  }
}

/** Fallback wait when a 429 carries neither Retry-After nor the "resets in ~Ns" hint. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 10_000;
/** Wait after a 5xx or a network error before the queue tries again. */
export const DEFAULT_TRANSIENT_WAIT_MS = 2_000;

interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
}

function responseOf(err: unknown): ResponseLike | null {
  if (!(err instanceof Error) || err.name !== 'ApiError') return null;
  const r = (err as { response?: unknown }).response;
  if (r && typeof (r as ResponseLike).status === 'number' && typeof (r as ResponseLike).headers?.get === 'function') return r as ResponseLike;
  return null;
}

/** `detail` (or `title`) of the problem+json quoted in an ApiError message; the raw text otherwise. */
export function providerDetail(message: string): string {
  const i = message.indexOf(': {');
  if (i === -1) return message;
  const json = message.slice(i + 2).replace(/\.$/, '');
  try {
    const body = JSON.parse(json) as { detail?: unknown; title?: unknown };
    if (typeof body.detail === 'string' && body.detail.trim() !== '') return body.detail.trim();
    if (typeof body.title === 'string') return body.title;
  } catch {
    /* not JSON: keep the text */
  }
  return json;
}

export function retryAfterMs(headerValue: string | null, detail: string, now = Date.now()): number {
  if (headerValue) {
    if (/^\d+(\.\d+)?$/.test(headerValue.trim())) return Math.round(Number(headerValue) * 1000);
    const at = Date.parse(headerValue);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const hint = /resets in ~?(\d+)\s*s/i.exec(detail);
  return hint ? Number(hint[1]) * 1000 : DEFAULT_RATE_LIMIT_WAIT_MS;
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  const code = (err as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(code)) return true;
  // undici: "fetch failed" (refused, reset), "terminated" (the socket closed mid-response)
  return err instanceof TypeError && /fetch failed|terminated|network|socket/i.test(err.message);
}

/** `what` says what we were doing ("create the prediction"), so the message is actionable on its own. */
export function classifyError(err: unknown, what: string): ReplicateProviderError {
  if (err instanceof ReplicateProviderError) return err;
  if (err instanceof ResendBlockedError) {
    return new ReplicateProviderError(`Replicate: ${what}: the connection dropped after the request was sent; it may or may not have been received`, true, DEFAULT_TRANSIENT_WAIT_MS, null, true);
  }
  const res = responseOf(err);
  if (res) {
    const detail = providerDetail((err as Error).message);
    const msg = `Replicate: ${what} failed (${res.status}): ${detail}`;
    if (res.status === 429) return new ReplicateProviderError(msg, true, retryAfterMs(res.headers.get('retry-after'), detail), 429);
    if (res.status >= 500 || res.status === 408) return new ReplicateProviderError(msg, true, DEFAULT_TRANSIENT_WAIT_MS, res.status);
    return new ReplicateProviderError(msg, false, undefined, res.status);
  }
  if (isNetworkError(err)) {
    const cause = (err as { cause?: { message?: unknown } }).cause?.message;
    const text = `${(err as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`;
    return new ReplicateProviderError(`Replicate: ${what}: network error: ${text}`, true, DEFAULT_TRANSIENT_WAIT_MS, null);
  }
  const text = err instanceof Error ? err.message : String(err);
  return new ReplicateProviderError(`Replicate: ${what}: ${text}`, false, undefined, null);
}

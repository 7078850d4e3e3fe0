import { S3ServiceException } from '@aws-sdk/client-s3';

/** Node/network error codes that mean "no answer" (the endpoint is down, restarting or unreachable). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EHOSTDOWN', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** S3 error codes that say "later", whatever the status (S3 can send some inside a 200 answer). */
const RETRYABLE_CODES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed']);

/**
 * The SDK turns a thrown value it does not recognise as an Error into a plain Error that keeps only the
 * original's text; that happens to Node's own network errors whenever they come from another realm (a VM
 * context, as under Jest), so their code survives only in that text.
 */
const SDK_WRAPPER = /^AWS SDK error wrapper for (.*)$/s;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function asErrorLike(err: unknown): ErrorLike | null {
  // Duck-typed on purpose: instanceof Error fails for errors from another realm.
  return typeof err === 'object' && err !== null ? (err as ErrorLike) : null;
}

function statusOf(err: unknown): number | undefined {
  return asErrorLike(err)?.$metadata?.httpStatusCode;
}

function isNetworkFailure(e: ErrorLike): boolean {
  if (e.name === 'TimeoutError') return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const wrapped = SDK_WRAPPER.exec(typeof e.message === 'string' ? e.message : '')?.[1];
  if (wrapped === undefined) return false;
  return /^TimeoutError\b|socket hang up/.test(wrapped) || [...NETWORK_CODES].some((c) => wrapped.includes(c));
}

/**
 * Whether an S3 call is worth retrying: no answer at all (refused, reset, timed out, cut off mid-body),
 * 408, 429, 5xx (the S3 XML 503 SlowDown/ServiceUnavailable, or the gateway's 503 while the storage service
 * is down). Anything else, 403 and 404 included, is a definite answer; local errors (a full disk) too.
 */
export function isTransientS3Error(err: unknown): boolean {
  const e = asErrorLike(err);
  if (!e) return false;
  if (typeof e.name === 'string' && RETRYABLE_CODES.has(e.name)) return true;
  const status = statusOf(err);
  if (status !== undefined && status >= 300) return status === 408 || status === 429 || status >= 500;
  return isNetworkFailure(e);
}

/** A short, actionable text: "HTTP 403 AccessDenied: Access Denied", "connect ECONNREFUSED 10.0.0.5:8001". */
export function describeS3Error(err: unknown): string {
  const e = asErrorLike(err);
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const status = statusOf(err);
  if (status === undefined || status < 300) return message.replace(SDK_WRAPPER, '$1');
  // Only S3's own error documents carry a useful message; a proxy's answer leaves the SDK a parse error.
  if (err instanceof S3ServiceException && err.name !== 'Unknown') return `HTTP ${status} ${err.name}: ${err.message}`;
  return `HTTP ${status}`;
}

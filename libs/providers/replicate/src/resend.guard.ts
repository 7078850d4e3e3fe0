import { ResendBlockedError } from './replicate-errors';

type FetchFn = typeof fetch;

/** Errors that prove the request never left: re-sending those cannot create a duplicate. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCode(err: unknown): string | null {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.cause?.code ?? e?.code;
  return typeof code === 'string' ? code : null;
}

function methodOf(input: Parameters<FetchFn>[0], init?: RequestInit): string {
  if (init?.method) return init.method.toUpperCase();
  return typeof input === 'object' && 'method' in input ? input.method.toUpperCase() : 'GET';
}

function pathOf(input: Parameters<FetchFn>[0]): string {
  if (typeof input === 'string') return new URL(input).pathname;
  return input instanceof URL ? input.pathname : new URL(input.url).pathname;
}

/** `POST …/predictions` (the create route); cancels and GETs are idempotent and may be re-sent freely. */
export function isPredictionCreate(method: string, path: string): boolean {
  return method === 'POST' && /\/predictions\/?$/.test(path);
}

/**
 * Wraps fetch for the `replicate` client. The client's withAutomaticRetries re-sends ANY request whose fetch
 * rejected, POSTs included, with no pause: if the connection dropped after Replicate accepted a create, the
 * re-send makes a second prediction (a second bill). The client passes the same `init` object on every
 * retry, so after a create's network failure we refuse further sends of that `init`; the client gives up
 * after its retries and rethrows our ResendBlockedError, and the plugin looks for the prediction instead.
 */
export function guardCreates(base: FetchFn): FetchFn {
  const failed = new WeakSet<object>();
  const guarded = async (input: Parameters<FetchFn>[0], init?: RequestInit): Promise<Response> => {
    if (init && failed.has(init)) throw new ResendBlockedError(null);
    try {
      return await base(input, init);
    } catch (err) {
      const code = errorCode(err);
      const create = isPredictionCreate(methodOf(input, init), pathOf(input));
      if (init && create && !(code && NEVER_SENT.has(code))) failed.add(init);
      throw err;
    }
  };
  return guarded as FetchFn;
}

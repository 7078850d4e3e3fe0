import { classifyError, providerDetail, ReplicateProviderError, ResendBlockedError, retryAfterMs } from './replicate-errors';

/** What the `replicate` client throws for a non-2xx answer (the body is only in the message). */
function apiError(status: number, body: object, headers: Record<string, string> = {}): Error {
  const err = new Error(`Request to http://127.0.0.1/v1/predictions failed with status ${status} Whatever: ${JSON.stringify(body)}.`);
  err.name = 'ApiError';
  Object.assign(err, { response: new Response(null, { status, headers }) });
  return err;
}

describe('classifyError', () => {
  it('429 is retryable after Retry-After', () => {
    const e = classifyError(apiError(429, { detail: 'Request was throttled. Your rate limit resets in ~30s.' }, { 'retry-after': '3' }), 'create the prediction');
    expect(e).toBeInstanceOf(ReplicateProviderError);
    expect(e).toMatchObject({ retryable: true, retryAfterMs: 3000, status: 429 });
    expect(e.message).toBe('Replicate: create the prediction failed (429): Request was throttled. Your rate limit resets in ~30s.');
  });

  it('429 without Retry-After uses the "resets in ~Ns" hint', () => {
    expect(classifyError(apiError(429, { detail: 'Request was throttled. Your rate limit resets in ~30s.' }), 'x').retryAfterMs).toBe(30_000);
  });

  it('5xx is retryable', () => {
    expect(classifyError(apiError(503, { detail: 'Service Unavailable' }), 'x')).toMatchObject({ retryable: true, status: 503 });
  });

  it('4xx is permanent with the provider text', () => {
    const e = classifyError(apiError(422, { title: 'Invalid version or not permitted', detail: 'The specified version does not exist (or perhaps you don\'t have permission to use it?)', status: 422 }), 'create the prediction');
    expect(e).toMatchObject({ retryable: false, status: 422 });
    expect(e.message).toContain('The specified version does not exist');
    expect(classifyError(apiError(402, { title: 'Insufficient credit', detail: 'You have insufficient credit to run this model.' }), 'x').retryable).toBe(false);
  });

  it('a network failure is retryable; a blocked re-send is ambiguous', () => {
    const net = new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(classifyError(net, 'x')).toMatchObject({ retryable: true, status: null, ambiguous: false });
    expect(classifyError(new ResendBlockedError(null), 'x')).toMatchObject({ retryable: true, ambiguous: true });
  });

  it('anything else is permanent', () => {
    expect(classifyError(new Error('Invalid webhook URL'), 'x')).toMatchObject({ retryable: false });
    expect(classifyError(new TypeError("Cannot read properties of undefined (reading 'id')"), 'x').retryable).toBe(false);
  });
});

describe('helpers', () => {
  it('providerDetail falls back to the title or the raw text', () => {
    expect(providerDetail('Request to u failed with status 409 Conflict: {"title":"Conflict"}.')).toBe('Conflict');
    expect(providerDetail('Request to u failed with status 502 Bad Gateway: <html>.')).toContain('Request to u failed');
  });

  it('retryAfterMs reads seconds, HTTP dates and defaults', () => {
    expect(retryAfterMs('2', '')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), '', 4_000)).toBe(6_000);
    expect(retryAfterMs(null, 'no hint')).toBe(10_000);
  });
});

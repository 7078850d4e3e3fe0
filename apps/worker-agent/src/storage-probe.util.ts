const PROBE_TIMEOUT_MS = 10_000;

/**
 * Resolves once the storage endpoint answers with anything but 5xx or 429. The request is anonymous: the
 * job's credentials die with the job, and an S3 endpoint that is up answers an anonymous GET (with 403).
 */
export async function probeStorage(endpoint: string, fetchFn: typeof fetch = fetch): Promise<void> {
  let res: Response;
  try {
    res = await fetchFn(endpoint, { method: 'GET', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new Error(`storage probe: ${(err as Error).message}${cause?.code ? ` (${cause.code})` : ''}`);
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 500 || res.status === 429) throw new Error(`storage probe: HTTP ${res.status}`);
}

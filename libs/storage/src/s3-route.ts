import { assertSafeKey, assertValidBucket } from './key-safety';

export type S3Route =
  | { kind: 'service' }
  | { kind: 'bucket'; bucket: string }
  | { kind: 'object'; bucket: string; key: string };

/** Normalises a mount prefix to "/a/b" form ('' for root). */
export function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' ? '' : trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/**
 * Path-style routing under a mount prefix: `{prefix}`, `{prefix}/{bucket}`, `{prefix}/{bucket}/{key}`.
 * Returns null outside the prefix. The key is percent-decoded once and checked with assertSafeKey,
 * so "..", "%2e%2e" and absolute keys are refused before anything touches storage.
 */
export function parseS3Path(rawPath: string, prefix: string): S3Route | null {
  let rest: string;
  if (rawPath === prefix) rest = '';
  else if (rawPath.startsWith(`${prefix}/`)) rest = rawPath.slice(prefix.length + 1);
  else return null;
  if (rest === '') return { kind: 'service' };
  const slash = rest.indexOf('/');
  const bucket = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  assertValidBucket(bucket);
  const rawKey = slash < 0 ? '' : rest.slice(slash + 1);
  if (rawKey === '') return { kind: 'bucket', bucket };
  const key = decodeURIComponent(rawKey);
  assertSafeKey(key);
  return { kind: 'object', bucket, key };
}

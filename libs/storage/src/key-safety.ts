import { DomainError } from '@ct/job-domain';

/** S3 caps keys at 1024 bytes of UTF-8; anything longer is rejected before touching a driver. */
export const MAX_KEY_BYTES = 1024;

// Control characters (C0, DEL, C1) have no business in object keys and break filesystems and logs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Rejects keys that could escape a prefix or a directory tree once mapped onto a filesystem.
 * S3 itself would accept most of these, but no client we serve needs them and each is a traversal risk.
 */
export function assertSafeKey(key: string): void {
  const fail = (why: string): never => {
    throw new DomainError('invalid_key', `Invalid object key: ${why}.`, { reason: why });
  };
  if (typeof key !== 'string' || key.length === 0) fail('the key is empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) fail(`the key is longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) fail('the key must not start with "/"');
  if (key.includes('\\')) fail('the key must not contain backslashes');
  if (CONTROL_CHARS.test(key)) fail('the key must not contain control characters');
  for (const segment of key.split('/')) {
    if (segment === '.' || segment === '..') fail('the key must not contain "." or ".." segments');
  }
}

/** True when the key passes {@link assertSafeKey}. */
export function isSafeKey(key: string): boolean {
  try {
    assertSafeKey(key);
    return true;
  } catch {
    return false;
  }
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** S3 bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens; no IP-like names, no '..'). */
export function assertValidBucket(bucket: string): void {
  const ok =
    typeof bucket === 'string' &&
    BUCKET_RE.test(bucket) &&
    !bucket.includes('..') &&
    !bucket.includes('.-') &&
    !bucket.includes('-.') &&
    !IPV4_RE.test(bucket) &&
    !bucket.startsWith('xn--');
  if (!ok) {
    throw new DomainError('invalid_key', `Invalid bucket name "${String(bucket).slice(0, 80)}".`, { reason: 'bucket_name' });
  }
}

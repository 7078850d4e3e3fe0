import { createHmac } from 'node:crypto';

/** Access key ids must stay within what every S3 client accepts without escaping. */
export const MAX_ACCESS_KEY_ID_LENGTH = 128;

const JOB_PREFIX = 'CTJ';
const API_KEY_PREFIX = 'CTK';
// RFC 4648 base32 uses A-Z and 2-7, so '8' can never appear inside an encoded id: a safe separator.
const SEPARATOR = '8';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ID_RE = /^[a-z0-9-]{1,64}$/;

export type ParsedAccessKeyId =
  | { kind: 'job'; jobId: string; fence: number }
  | { kind: 'apikey'; apiKeyId: string };

function base32Encode(text: string): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(encoded: string): string | null {
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const ch of encoded) {
    const idx = B32.indexOf(ch);
    if (idx < 0) return null;
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  // Non-canonical encodings (leftover non-zero bits) would give two ids for one job; refuse them.
  if (value !== 0 || bits >= 5) return null;
  return Buffer.from(bytes).toString('utf8');
}

function assertId(id: string, what: string): void {
  if (!ID_RE.test(id)) throw new Error(`${what} must match [a-z0-9-]{1,64}, got "${id.slice(0, 80)}".`);
}

/** Access key id of a job's ephemeral credential; the fence makes credentials of an earlier lease useless. */
export function jobAccessKeyId(jobId: string, fence: number): string {
  assertId(jobId, 'jobId');
  if (!Number.isSafeInteger(fence) || fence < 0) throw new Error('fence must be a non-negative safe integer.');
  const id = `${JOB_PREFIX}${base32Encode(jobId)}${SEPARATOR}${fence}`;
  if (id.length > MAX_ACCESS_KEY_ID_LENGTH) throw new Error('jobId is too long for an access key id.');
  return id;
}

/** Access key id for an API key's S3 credential. */
export function apiKeyAccessKeyId(apiKeyId: string): string {
  assertId(apiKeyId, 'apiKeyId');
  const id = `${API_KEY_PREFIX}${base32Encode(apiKeyId)}`;
  if (id.length > MAX_ACCESS_KEY_ID_LENGTH) throw new Error('apiKeyId is too long for an access key id.');
  return id;
}

/** Inverse of {@link jobAccessKeyId} / {@link apiKeyAccessKeyId}; null for anything we did not mint. */
export function parseAccessKeyId(id: string): ParsedAccessKeyId | null {
  if (typeof id !== 'string' || id.length > MAX_ACCESS_KEY_ID_LENGTH || !/^[A-Z0-9]+$/.test(id)) return null;
  if (id.startsWith(JOB_PREFIX)) {
    const rest = id.slice(JOB_PREFIX.length);
    const sep = rest.indexOf(SEPARATOR);
    if (sep <= 0) return null;
    const jobId = base32Decode(rest.slice(0, sep));
    const fenceText = rest.slice(sep + 1);
    if (jobId === null || !ID_RE.test(jobId) || !/^(0|[1-9][0-9]{0,15})$/.test(fenceText)) return null;
    const fence = Number(fenceText);
    if (!Number.isSafeInteger(fence)) return null;
    return { kind: 'job', jobId, fence };
  }
  if (id.startsWith(API_KEY_PREFIX)) {
    const apiKeyId = base32Decode(id.slice(API_KEY_PREFIX.length));
    if (apiKeyId === null || !ID_RE.test(apiKeyId)) return null;
    return { kind: 'apikey', apiKeyId };
  }
  return null;
}

/**
 * Secret for an access key id, derived from a server master key so per-job secrets are never stored:
 * HMAC-SHA256(masterKey, accessKeyId), base64url, first 40 characters (AWS secret length).
 */
export function deriveSecret(masterKey: string, accessKeyId: string): string {
  if (!masterKey) throw new Error('masterKey must not be empty.');
  return createHmac('sha256', masterKey).update(accessKeyId, 'utf8').digest('base64url').slice(0, 40);
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Tokens are shown once and stored as SHA-256: a leaked table reveals no usable key. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** `<kind>_<prefix>_<secret>`: the prefix identifies the key in lists without revealing it. */
export function generateToken(kind: 'ctk' | 'ctw'): { token: string; prefix: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return { token: `${kind}_${prefix}_${secret}`, prefix };
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

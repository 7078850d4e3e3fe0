import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReplayGuard } from './replay.guard';

/**
 * Verifies Replicate webhooks (the Standard Webhooks / Svix scheme):
 * `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>`
 * entries, where key = base64-decode of the secret after `whsec_`. Unlike the `replicate` package's
 * validateWebhook, the comparison is constant-time and the timestamp must be within the tolerance.
 */
export type WebhookFailure = 'missing_headers' | 'bad_signature' | 'stale_timestamp' | 'replayed' | 'malformed';


export type WebhookVerification<T = Record<string, unknown>> =
  | { ok: true; webhookId: string; timestamp: number; event: T }
  | { ok: false; reason: WebhookFailure; detail: string };

/** Express `req.headers` (lower-case keys, string | string[]) or a fetch `Headers`. */
export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>> | { get(name: string): string | null };

export interface WebhookRequest {
  headers: WebhookHeaders;
  /** The bytes exactly as received: re-serialised JSON does not match the signature. */
  rawBody: string | Buffer;
}

export interface WebhookVerifierOptions {
  /** Returns `whsec_…` (for Replicate: `GET /v1/webhooks/default/secret`, see ReplicatePlugin.fetchWebhookSecret). */
  getSecret: () => Promise<string>;
  /** default guard; `verify` can be given one per call (e.g. one that records the delivery against a job) */
  replayGuard?: ReplayGuard;
  /** default ±300 s, as SimpleTuner and the Standard Webhooks libraries */
  toleranceSeconds?: number;
  /** how long a fetched secret is trusted (default 5 min, as SimpleTuner) */
  secretTtlMs?: number;
  /** at most one refetch-after-a-bad-signature per this interval, so forged requests cannot hammer the API */
  minRefetchIntervalMs?: number;
  now?: () => number;
}

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof headers.get === 'function') return (headers as { get(n: string): string | null }).get(name);
  const v = (headers as Readonly<Record<string, string | string[] | undefined>>)[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : null;
}

/** The HMAC key of a `whsec_<base64>` secret (a bare base64 secret is accepted too). */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export function signWebhook(secret: string, id: string, timestamp: number | string, body: string | Buffer): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** True when any `v1,<sig>` entry matches. Other versions (`v1a,…` asymmetric) are ignored, as the spec says. */
export function signatureMatches(secret: string, id: string, timestamp: string, body: string | Buffer, signatures: string): boolean {
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice(3), 'base64');
  let match = false;
  for (const entry of signatures.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    // timingSafeEqual throws on different lengths; the length of an HMAC is public anyway
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  return match;
}

export class WebhookVerifier {
  private cached: { secret: string; fetchedAt: number } | null = null;
  private fetching: Promise<string> | null = null;
  private lastForcedRefetch = Number.NEGATIVE_INFINITY;
  private readonly tolerance: number;
  private readonly ttl: number;
  private readonly minRefetch: number;
  private readonly now: () => number;

  constructor(private readonly options: WebhookVerifierOptions) {
    this.tolerance = options.toleranceSeconds ?? 300;
    this.ttl = options.secretTtlMs ?? 5 * 60_000;
    // Short: after a rotation, deliveries refused within it are retried by Replicate (and the job is polled at
    // once), while forged requests can make us fetch the secret at most once per interval.
    this.minRefetch = options.minRefetchIntervalMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Order matters: cheap header and clock checks first; the replay guard only after the signature, so
   * forged requests cannot fill it or burn a real message id.
   */
  async verify<T = Record<string, unknown>>(req: WebhookRequest, replayGuard = this.options.replayGuard): Promise<WebhookVerification<T>> {
    if (!replayGuard) throw new Error('WebhookVerifier: no replay guard');
    const id = header(req.headers, 'webhook-id');
    const ts = header(req.headers, 'webhook-timestamp');
    const sig = header(req.headers, 'webhook-signature');
    if (!id || !ts || !sig) return fail('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are required');
    if (!/^\d{1,12}$/.test(ts)) return fail('malformed', 'webhook-timestamp is not Unix seconds');
    const timestamp = Number(ts);
    const skew = Math.abs(this.now() / 1000 - timestamp);
    if (skew > this.tolerance) return fail('stale_timestamp', `webhook-timestamp is ${Math.round(skew)} s away from now (tolerance ${this.tolerance} s)`);
    if (!(await this.signatureOk(id, ts, req.rawBody, sig))) return fail('bad_signature', 'no webhook-signature entry matches');
    const event = parseObject<T>(req.rawBody);
    if (event === null) return fail('malformed', 'the body is not a JSON object');
    if (await replayGuard.seen(id)) return fail('replayed', `webhook ${id} was already processed`);
    return { ok: true, webhookId: id, timestamp, event };
  }

  /** Forget the cached secret (e.g. after an admin rotated it). */
  invalidate(): void {
    this.cached = null;
  }

  private async signatureOk(id: string, ts: string, body: string | Buffer, sig: string): Promise<boolean> {
    const fresh = this.cached === null || this.now() - this.cached.fetchedAt >= this.ttl;
    const secret = await this.secret(fresh);
    if (signatureMatches(secret, id, ts, body, sig)) return true;
    // The secret may have been rotated since we cached it: refetch once (rate-limited) and try again.
    if (fresh || this.now() - this.lastForcedRefetch < this.minRefetch) return false;
    this.lastForcedRefetch = this.now();
    const rotated = await this.secret(true);
    return rotated !== secret && signatureMatches(rotated, id, ts, body, sig);
  }

  /** One fetch at a time: a burst of deliveries after the cache expired asks the provider once. */
  private async secret(refetch: boolean): Promise<string> {
    if (!refetch && this.cached) return this.cached.secret;
    this.fetching ??= this.options
      .getSecret()
      .then((secret) => {
        this.cached = { secret, fetchedAt: this.now() };
        return secret;
      })
      .finally(() => (this.fetching = null));
    return this.fetching;
  }
}

function fail(reason: WebhookFailure, detail: string): { ok: false; reason: WebhookFailure; detail: string } {
  return { ok: false, reason, detail };
}

function parseObject<T>(raw: string | Buffer): T | null {
  try {
    const v: unknown = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
}

import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { seededRandom, sleepReal, webhookMessageId } from './sim-clock.util';
import type { LoseWebhooksSpec, SimStatus, SimWebhookOptions, WebhookDeliveryRecord, WebhookEvent } from './replicate-sim.types';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Standard Webhooks signature: base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the base64 part after `whsec_`. */
export function signWebhook(secret: string, id: string, timestampS: number, body: string): string {
  const key = Buffer.from(secret.split('_').pop() ?? '', 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

export interface WebhookJob {
  predictionId: string;
  event: WebhookEvent;
  status: SimStatus;
  url: string;
  secret: string;
  /** serialised once, so every retry signs and sends the exact same bytes */
  body: string;
}

/**
 * Delivers webhooks in order per run (a retry holds back the later events of the same run, so `completed`
 * never overtakes `start`), with retries on non-2xx / network error / timeout, no redirects followed, and
 * scripted loss.
 */
export class SimWebhookDispatcher {
  readonly deliveries: WebhookDeliveryRecord[] = [];
  private readonly chains = new Map<string, Promise<void>>();
  private lose: (LoseWebhooksSpec & { rand: () => number }) | null = null;
  private readonly abort = new AbortController();
  private inflight = 0;

  constructor(private options: SimWebhookOptions) {}

  configure(options: Partial<SimWebhookOptions>): void {
    this.options = { ...this.options, ...options };
  }

  loseWebhooks(spec: LoseWebhooksSpec | null): void {
    this.lose = spec ? { ...spec, rand: seededRandom(spec.seed ?? 1) } : null;
  }

  enqueue(job: WebhookJob): void {
    const record: WebhookDeliveryRecord = {
      messageId: webhookMessageId(), predictionId: job.predictionId, event: job.event, status: job.status,
      url: job.url, outcome: 'pending', attempts: [],
    };
    this.deliveries.push(record);
    if (this.shouldLose(job.event)) {
      record.outcome = 'dropped';
      return;
    }
    const prev = this.chains.get(job.predictionId) ?? Promise.resolve();
    this.inflight++;
    const next = prev.then(() => this.deliver(job, record)).finally(() => this.inflight--);
    this.chains.set(job.predictionId, next);
  }

  /** Resolves once every queued delivery has settled (delivered, failed or dropped). */
  async idle(): Promise<void> {
    while (this.inflight > 0) await Promise.all([...this.chains.values()]);
  }

  stop(): void {
    this.abort.abort();
  }

  clear(): void {
    this.deliveries.length = 0;
  }

  private shouldLose(event: WebhookEvent): boolean {
    if (!this.lose) return false;
    if (this.lose.events && !this.lose.events.includes(event)) return false;
    return this.lose.rand() < this.lose.fraction;
  }

  private async deliver(job: WebhookJob, record: WebhookDeliveryRecord): Promise<void> {
    const { retries, retryDelaysMs, timeoutMs } = this.options;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (this.abort.signal.aborted) break;
      if (attempt > 0) {
        const delay = retryDelaysMs[Math.min(attempt - 1, retryDelaysMs.length - 1)] ?? 1000;
        if (!(await sleepReal(delay, this.abort.signal))) break;
      }
      const timestampS = Math.floor(Date.now() / 1000);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'Replicate-Webhooks (simulated)',
        'webhook-id': record.messageId,
        'webhook-timestamp': String(timestampS),
        'webhook-signature': signWebhook(job.secret, record.messageId, timestampS, job.body),
      };
      const at = new Date().toISOString();
      const result = await postOnce(job.url, headers, job.body, timeoutMs);
      record.attempts.push({ at, responseStatus: result.status, error: result.error });
      if (result.status !== null && result.status >= 200 && result.status < 300) {
        record.outcome = 'delivered';
        return;
      }
    }
    record.outcome = 'failed';
  }
}

/** One POST with node:http (not fetch): no redirect following, no keep-alive pool left open after stop(). */
function postOnce(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ status: null, error: 'invalid webhook URL' });
    }
    const lib = target.protocol === 'https:' ? https : http;
    const req = lib.request(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? null, error: e.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: null, error: e.message }));
    req.end(body);
  });
}

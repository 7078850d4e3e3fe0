import type { ProviderWebhooks, ReplayGuard, WebhookVerdict } from '@ct/providers-core';
import { WebhookVerifier } from './webhook-verifier';
import type { PredictionLike, ReplicateJobStatus } from './replicate.types';

/** A delivery carries the whole prediction, logs included: a long training's log can run to megabytes. */
export const MAX_WEBHOOK_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Replicate's signed webhooks (Standard Webhooks) for one organisation: one verifier, so the account's
 * signing secret is fetched once per five minutes and again at once (rate-limited) when a signature stops
 * matching after a rotation.
 */
export class ReplicateWebhooks implements ProviderWebhooks {
  readonly maxBodyBytes = MAX_WEBHOOK_BODY_BYTES;
  private readonly verifier: WebhookVerifier;

  constructor(getSecret: () => Promise<string>, private readonly statusOf: (p: PredictionLike) => ReplicateJobStatus, now?: () => number) {
    this.verifier = new WebhookVerifier({ getSecret, ...(now ? { now } : {}) });
  }

  async verify(req: { headers: Readonly<Record<string, string | string[] | undefined>>; rawBody: Buffer }, guard: ReplayGuard): Promise<WebhookVerdict> {
    let verdict;
    try {
      verdict = await this.verifier.verify<PredictionLike>({ headers: req.headers, rawBody: req.rawBody }, guard);
    } catch (err) {
      return { ok: false, reason: 'secret_unavailable', detail: `the signing secret could not be fetched from Replicate: ${(err as Error).message}` };
    }
    if (!verdict.ok) return verdict;
    if (typeof verdict.event.id !== 'string' || typeof verdict.event.status !== 'string') {
      return { ok: false, reason: 'malformed', detail: 'the body is not a prediction (no id or status)' };
    }
    return { ok: true, webhookId: verdict.webhookId, status: this.statusOf(verdict.event) };
  }
}

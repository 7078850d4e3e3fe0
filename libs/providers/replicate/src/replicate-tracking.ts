import type { ProviderTracking, TrackingInput } from '@ct/providers-core';
import { nextPollDelay, quietDeferral, quietInterval } from './poll-cadence';
import type { PollCadence, ReplicateState } from './replicate.types';

export const DEFAULT_CADENCE: PollCadence = { minMs: 5_000, maxMs: 30_000, quietMs: 300_000 };

/**
 * When the poller asks Replicate about a job (the policy itself is in poll-cadence.ts). With webhooks a
 * job is polled only after it has been quiet; the prediction's creation counts as the first contact.
 */
export class ReplicateTracking implements ProviderTracking {
  constructor(private readonly cadence: PollCadence, private readonly webhooks: boolean) {}

  get silentAfterMs(): number {
    return 2 * Math.max(this.cadence.quietMs, this.cadence.maxMs);
  }

  deferral(input: TrackingInput): number {
    if (!this.webhooks) return 0;
    const contacts = this.contacts(input);
    return quietDeferral(contacts[0] ?? null, input.nowMs, quietInterval(contacts, this.cadence));
  }

  nextDelay(input: TrackingInput & { foundNews: boolean; retryAfterMs?: number }): number {
    const contacts = this.webhooks ? this.contacts(input) : [];
    const silentForMs = contacts[0] === undefined ? undefined : input.nowMs - contacts[0];
    return nextPollDelay(
      { webhooks: this.webhooks, foundNews: input.foundNews, n: input.n, retryAfterMs: input.retryAfterMs, quietMs: quietInterval(contacts, this.cadence), silentForMs },
      this.cadence,
    );
  }

  /** Verified webhooks, newest first; before the first one, the prediction's creation. */
  private contacts(input: TrackingInput): number[] {
    if (input.contactsMs.length) return input.contactsMs;
    const created = Date.parse((input.job.state as ReplicateState | null)?.attempt?.attemptedAt ?? '');
    return Number.isFinite(created) ? [created] : [];
  }
}

import type { ReplayGuard } from '@ct/providers-core';

export type { ReplayGuard };

/** For tests and a single process: a map of id → expiry, swept lazily. */
/**
 * Replicate re-delivers a message with the SAME `webhook-id` when our answer was not a 2xx in time, and an
 * attacker who captured a delivery could replay it inside the timestamp window: ids must be remembered at
 * least as long as the timestamp tolerance. The services use the webhook-delivery table (a unique index).
 */
export class InMemoryReplayGuard implements ReplayGuard {
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async seen(webhookId: string): Promise<boolean> {
    const t = this.now();
    this.sweep(t);
    if (this.ids.has(webhookId)) return true;
    this.ids.set(webhookId, t + this.ttlMs);
    return false;
  }

  get size(): number {
    return this.ids.size;
  }

  private sweep(t: number): void {
    for (const [id, expires] of this.ids) if (expires <= t) this.ids.delete(id);
  }
}

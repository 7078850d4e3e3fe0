/**
 * When to ask Replicate about an active job. Pure functions, so the policy is tested on its own.
 *
 * Without webhooks, polling is how we learn anything: it starts at `minMs` and backs off by 1.5x per poll
 * to `maxMs` (Replicate bills by the second, so a fast first answer matters more than a cheap one).
 *
 * With webhooks, polling is only the safety net for deliveries that never come. A job that was heard from
 * (a verified webhook, or its creation) less than its quiet interval ago is not polled at all: its poll is
 * pushed to the end of that interval. The interval is `quietMs` (300 s), or, once a job has sent a few
 * webhooks, four times the median gap between them, but never under `2 x maxMs` (60 s): a trainer that
 * prints every few seconds and then falls silent has most likely finished, and its lost `completed` is
 * noticed within a minute or two instead of five; a job whose webhooks stay away is still polled at most
 * once per `quietMs`. When a poll does happen and finds something the webhooks did not deliver
 * (a status change, new log lines), webhooks are evidently not reaching us for this job, so it falls back
 * to the no-webhook cadence until a poll finds nothing new again.
 */
import type { PollCadence } from './replicate.types';
export type { PollCadence };

/** How long a job may stay silent before it is polled, from its recent contacts (newest first, ms). */
export function quietInterval(recentContactsMs: readonly number[], c: PollCadence): number {
  if (recentContactsMs.length < 4) return c.quietMs;
  const gaps = recentContactsMs.slice(1).map((t, i) => (recentContactsMs[i] ?? t) - t).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)] ?? c.quietMs;
  return Math.min(c.quietMs, Math.max(2 * c.maxMs, 4 * median));
}

/** Milliseconds to wait before polling, 0 to poll now. Only used when webhooks are on. */
export function quietDeferral(lastContactMs: number | null, nowMs: number, quietMs: number): number {
  if (lastContactMs === null) return 0;
  return Math.max(0, lastContactMs + quietMs - nowMs);
}

/**
 * Delay before the next poll after one that reached the provider (or was refused with a retry-after).
 * With webhooks and nothing new, the job is running but silent (validation, checkpointing): wait its quiet
 * interval, or as long as it has already been silent if that is longer, capped at `quietMs`, so a long
 * silence costs polls at growing gaps (1, 2, 4 ... quiet intervals), never more than one per `quietMs` in
 * the end.
 */
export function nextPollDelay(
  args: { webhooks: boolean; foundNews: boolean; n: number; retryAfterMs?: number; quietMs?: number; silentForMs?: number },
  c: PollCadence,
): number {
  const backoff = Math.min(c.minMs * 1.5 ** args.n, c.maxMs);
  const quiet = Math.min(c.quietMs, Math.max(args.quietMs ?? c.quietMs, args.silentForMs ?? 0));
  const base = args.webhooks && !args.foundNews ? quiet : backoff;
  return Math.max(args.retryAfterMs ?? 0, base);
}

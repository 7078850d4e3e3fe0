import type Replicate from 'replicate';
import { matchesJob, type JobMarker } from './prediction.mapper';
import type { PredictionLike } from './replicate.types';

export interface FindOptions {
  /** only predictions created at or after this instant (ms) are considered */
  sinceMs: number;
  /** pages of 100 to walk at most (Replicate lists every prediction of the account, newest first) */
  maxPages?: number;
  /** list items without `input`/`webhook` are fetched one by one, at most this many */
  maxFetches?: number;
}

/** Replicate's timestamps and ours come from different clocks; look a little further back than our record. */
export const CLOCK_SKEW_MS = 10 * 60_000;

function createdMs(p: PredictionLike): number {
  const t = p.created_at ? Date.parse(p.created_at) : NaN;
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * Finds the prediction an earlier, interrupted attempt created for a job. Walks the account's predictions
 * newest first and stops at the first one older than `sinceMs`.
 */
export class PredictionFinder {
  constructor(private readonly client: Replicate) {}

  async find(marker: JobMarker, opts: FindOptions): Promise<PredictionLike | null> {
    const maxPages = opts.maxPages ?? 5;
    let fetchesLeft = opts.maxFetches ?? 25;
    let pages = 0;
    for await (const page of this.client.paginate(() => this.client.predictions.list())) {
      for (const item of page as PredictionLike[]) {
        if (createdMs(item) < opts.sinceMs) return null;
        if (matchesJob(item, marker)) return item;
        // a list item may be abridged; the full object has input and webhook
        if (!('input' in item) && !('webhook' in item) && fetchesLeft-- > 0) {
          const full = (await this.client.predictions.get(item.id)) as PredictionLike;
          if (matchesJob(full, marker)) return full;
        }
      }
      if (++pages >= maxPages) return null;
    }
    return null;
  }
}

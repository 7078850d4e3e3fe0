import { nextPollDelay, quietDeferral, quietInterval } from './poll-cadence';

const c = { minMs: 5_000, maxMs: 30_000, quietMs: 300_000 };

describe('poll cadence', () => {
  it('without webhooks backs off from min to max by 1.5x', () => {
    const delays = [0, 1, 2, 3, 4, 5, 10].map((n) => nextPollDelay({ webhooks: false, foundNews: false, n }, c));
    expect(delays).toEqual([5_000, 7_500, 11_250, 16_875, 25_312.5, 30_000, 30_000]);
  });

  it('with webhooks and nothing new, waits the quiet interval, or the silence so far, up to quietMs', () => {
    expect(nextPollDelay({ webhooks: true, foundNews: false, n: 7 }, c)).toBe(300_000);
    expect(nextPollDelay({ webhooks: true, foundNews: false, n: 7, quietMs: 60_000, silentForMs: 60_000 }, c)).toBe(60_000);
    expect(nextPollDelay({ webhooks: true, foundNews: false, n: 7, quietMs: 60_000, silentForMs: 120_000 }, c)).toBe(120_000);
    expect(nextPollDelay({ webhooks: true, foundNews: false, n: 7, quietMs: 60_000, silentForMs: 3_600_000 }, c)).toBe(300_000);
  });

  it('with webhooks, a poll that found news falls back to the no-webhook cadence', () => {
    expect(nextPollDelay({ webhooks: true, foundNews: true, n: 0 }, c)).toBe(5_000);
    expect(nextPollDelay({ webhooks: true, foundNews: true, n: 9 }, c)).toBe(30_000);
  });

  it('a rate limit never makes the next poll sooner than the provider asked', () => {
    expect(nextPollDelay({ webhooks: false, foundNews: false, n: 0, retryAfterMs: 42_000 }, c)).toBe(42_000);
    expect(nextPollDelay({ webhooks: true, foundNews: false, n: 0, retryAfterMs: 42_000 }, c)).toBe(300_000);
  });

  it('defers a poll until the quiet interval after the last contact has passed', () => {
    const now = 1_000_000;
    expect(quietDeferral(null, now, 300_000)).toBe(0);
    expect(quietDeferral(now - 10_000, now, 300_000)).toBe(290_000);
    expect(quietDeferral(now - 300_000, now, 300_000)).toBe(0);
    expect(quietDeferral(now - 900_000, now, 300_000)).toBe(0);
  });

  it('adapts the quiet interval to how often the job sends webhooks, within [2 x max, quiet]', () => {
    const every = (gapMs: number, n: number) => Array.from({ length: n }, (_, i) => 10_000_000 - i * gapMs);
    expect(quietInterval([], c)).toBe(300_000);
    expect(quietInterval(every(1_000, 3), c)).toBe(300_000); // too few to judge
    expect(quietInterval(every(1_000, 8), c)).toBe(60_000); // chatty trainer: floor of 2 x max
    expect(quietInterval(every(30_000, 8), c)).toBe(120_000); // a line every 30 s: 4 x 30 s
    expect(quietInterval(every(200_000, 8), c)).toBe(300_000); // rare webhooks: never above quiet
    // one long gap (lost deliveries) does not move the median
    expect(quietInterval([1_000_000, 970_000, 940_000, 820_000, 790_000, 760_000], c)).toBe(120_000);
  });
});

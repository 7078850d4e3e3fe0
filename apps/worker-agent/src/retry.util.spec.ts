import { GatewayError } from './gateway-errors';
import { OutageError, OutageWindow } from './outage-window.util';
import { withRetry } from './retry.util';

const transient = (): GatewayError => new GatewayError('report: HTTP 503', 503, undefined, true);
const permanent = (): GatewayError => new GatewayError('report: HTTP 404', 404, 'not_found', false);

/** fn failing with the given errors in turn, then succeeding; records when each attempt happened. */
function flaky(errors: Array<() => Error>): { fn: () => Promise<string>; at: number[] } {
  const at: number[] = [];
  const t0 = Date.now();
  let n = 0;
  return {
    at,
    fn: async () => {
      at.push(Date.now() - t0);
      const make = errors[n++];
      if (make) throw make();
      return 'ok';
    },
  };
}

describe('withRetry', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('retries transient failures with capped exponential backoff until the call succeeds', async () => {
    const { fn, at } = flaky(Array.from({ length: 8 }, () => transient));
    const result = withRetry(fn, { baseDelayMs: 1000, maxDelayMs: 4000 });
    await jest.advanceTimersByTimeAsync(60_000);
    await expect(result).resolves.toBe('ok');
    expect(at).toHaveLength(9);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(4000);
    expect(gaps[5]!).toBeGreaterThanOrEqual(2000); // capped at 4000, jittered down to at most half
  });

  it('fails at once on a permanent error', async () => {
    const { fn, at } = flaky([permanent]);
    await expect(withRetry(fn, { outage: new OutageWindow(60_000) })).rejects.toThrow(/HTTP 404/);
    expect(at).toEqual([0]);
  });

  it('gives up with an OutageError once the window is used up, the last attempt at its end', async () => {
    const { fn, at } = flaky(Array.from({ length: 1000 }, () => transient));
    const result = withRetry(fn, { outage: new OutageWindow(60_000), what: 'report completed', baseDelayMs: 1000, maxDelayMs: 10_000 });
    const failure = result.catch((err: unknown) => err);
    await jest.advanceTimersByTimeAsync(70_000);
    const err = await failure;
    expect(err).toBeInstanceOf(OutageError);
    expect((err as Error).message).toBe('report completed still failing after 60 s of retries: report: HTTP 503');
    expect(at[at.length - 1]).toBe(60_000);
  });

  it('measures the outage across calls sharing a window, and an answer ends it', async () => {
    const outage = new OutageWindow(10_000);
    const first = flaky([transient, transient]);
    const done = withRetry(first.fn, { outage, baseDelayMs: 3000, maxDelayMs: 3000 });
    await jest.advanceTimersByTimeAsync(6_000);
    await expect(done).resolves.toBe('ok');
    expect(outage.failing).toBe(false);
    outage.failed();
    await jest.advanceTimersByTimeAsync(9_000);
    expect(outage.remainingMs()).toBe(1_000);
    outage.restart();
    expect(outage.remainingMs()).toBe(10_000);
  });

  it('stops retrying when the signal aborts', async () => {
    const ctl = new AbortController();
    const { fn, at } = flaky(Array.from({ length: 100 }, () => transient));
    const result = withRetry(fn, { signal: ctl.signal, baseDelayMs: 1000 }).catch((err: unknown) => err);
    await jest.advanceTimersByTimeAsync(1_500);
    ctl.abort();
    expect(await result).toBeInstanceOf(GatewayError);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(at.length).toBeLessThanOrEqual(3);
  });
});

import { GatewayError, isTransient } from './gateway-errors';
import { LogBatcher, type BatchedLine, type LogBatcherOptions } from './log-batcher.service';
import { OutageWindow } from './outage-window.util';

const down = (): GatewayError => new GatewayError('logs: fetch failed (ECONNREFUSED)', null, 'ECONNREFUSED', true);

/** A gateway stand-in: records delivered batches; fails while `failing` says so. */
function gateway(delayMs = 0): { batches: string[][]; failing: () => boolean; setFailing: (f: () => boolean) => void; send: LogBatcherOptions['send'] } {
  const state = { failing: (): boolean => false };
  const batches: string[][] = [];
  return {
    batches,
    failing: () => state.failing(),
    setFailing: (f) => (state.failing = f),
    send: async (lines) => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (state.failing()) throw down();
      batches.push(lines.map((l) => l.line));
    },
  };
}

function batcher(send: LogBatcherOptions['send'], extra: Partial<LogBatcherOptions> = {}): { b: LogBatcher; dropped: Array<[number, string]> } {
  const dropped: Array<[number, string]> = [];
  const b = new LogBatcher({
    maxLines: 100,
    maxDelayMs: 60_000,
    send,
    isTransient,
    delays: { baseDelayMs: 10, maxDelayMs: 50 },
    outage: new OutageWindow(60_000),
    onDropped: (n, reason) => void dropped.push([n, reason]),
    ...extra,
  });
  return { b, dropped };
}

describe('LogBatcher', () => {
  afterEach(() => jest.useRealTimers());

  it('sends a batch as soon as maxLines are waiting', async () => {
    const gw = gateway();
    const { b } = batcher(gw.send, { maxLines: 3 });
    for (let i = 0; i < 7; i++) b.push('stdout', `l${i}`);
    await b.flush();
    expect(gw.batches).toEqual([['l0', 'l1', 'l2'], ['l3', 'l4', 'l5'], ['l6']]);
  });

  it('sends after maxDelayMs when fewer lines are waiting', async () => {
    jest.useFakeTimers();
    const gw = gateway();
    const { b } = batcher(gw.send, { maxDelayMs: 500 });
    b.push('stderr', 'a');
    b.push('stdout', 'b');
    await jest.advanceTimersByTimeAsync(499);
    expect(gw.batches).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(gw.batches).toEqual([['a', 'b']]);
  });

  it('never loses the tail: close() waits for in-flight and pending lines, in order', async () => {
    const gw = gateway(20);
    const { b } = batcher(gw.send, { maxLines: 2 });
    for (let i = 0; i < 5; i++) b.push('stdout', `l${i}`);
    await b.close();
    expect(gw.batches.flat()).toEqual(['l0', 'l1', 'l2', 'l3', 'l4']);
    expect(b.pending).toBe(0);
    b.push('stdout', 'after close');
    await b.flush();
    expect(gw.batches.flat()).toHaveLength(5);
  });

  it('keeps a batch the gateway did not take and sends it again, in order, once it is back', async () => {
    const gw = gateway();
    let attempts = 0;
    gw.setFailing(() => ++attempts <= 4);
    const { b, dropped } = batcher(gw.send, { maxLines: 2 });
    for (let i = 0; i < 5; i++) b.push('stdout', `l${i}`);
    await b.close();
    expect(gw.batches.flat()).toEqual(['l0', 'l1', 'l2', 'l3', 'l4']);
    expect(dropped).toEqual([]);
  });

  it('drops a batch the gateway refuses for good, and goes on with the next', async () => {
    let calls = 0;
    const sent: string[] = [];
    const { b, dropped } = batcher(
      async (lines) => {
        if (calls++ === 0) throw new GatewayError('logs: HTTP 400', 400, 'validation', false);
        sent.push(...lines.map((l) => l.line));
      },
      { maxLines: 2 },
    );
    for (const l of ['x', 'y', 'z']) b.push('stdout', l);
    await b.close();
    expect(sent).toEqual(['z']);
    expect(dropped).toEqual([[2, 'the gateway refused the batch']]);
  });

  it('keeps at most maxBufferedChars while the gateway is down, dropping the oldest and saying so in the log', async () => {
    const gw = gateway();
    let up = false;
    let failures = 0;
    gw.setFailing(() => !up && ++failures > 0);
    const { b, dropped } = batcher(gw.send, { maxLines: 1000, maxDelayMs: 1, maxBufferedChars: 10 * 9 });
    b.push('stdout', 'first-line'); // taken into the first batch, which then waits for the gateway
    while (failures === 0) await new Promise((r) => setTimeout(r, 1));
    for (let i = 0; i < 25; i++) b.push('stdout', `line-${String(i).padStart(4, '0')}`);
    up = true;
    await b.close();
    const delivered = gw.batches.flat();
    expect(delivered[0]).toBe('first-line');
    expect(delivered[1]).toMatch(/^\[worker agent\] 15 earlier log line\(s\) dropped here/);
    expect(delivered.slice(2)).toEqual(Array.from({ length: 10 }, (_, i) => `line-${String(i + 15).padStart(4, '0')}`));
    expect(dropped).toEqual([[15, 'the unsent-log buffer was full']]);
  });

  it('gives up on close once the outage window is used up, counting what it drops', async () => {
    jest.useFakeTimers();
    const gw = gateway();
    gw.setFailing(() => true);
    const outage = new OutageWindow(30_000);
    const { b, dropped } = batcher(gw.send, { maxLines: 2, outage, delays: { baseDelayMs: 1000, maxDelayMs: 10_000 } });
    for (let i = 0; i < 5; i++) b.push('stdout', `l${i}`);
    let closed = false;
    const closing = b.close().then(() => (closed = true));
    await jest.advanceTimersByTimeAsync(29_000);
    expect(closed).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    await closing;
    expect(dropped).toEqual([[5, 'the gateway stayed unreachable for the whole outage window']]);
    expect(gw.batches).toEqual([]);
  });

  it('stamps each line with a timestamp and stream', async () => {
    const got: BatchedLine[] = [];
    const { b } = batcher(async (l) => void got.push(...l), { maxDelayMs: 10 });
    b.push('system', 'hello');
    await b.close();
    expect(got[0]).toEqual({ stream: 'system', line: 'hello', ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });
});

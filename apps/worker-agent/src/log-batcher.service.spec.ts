import { LogBatcher, type BatchedLine } from './log-batcher.service';

function collector(delayMs = 0): { batches: string[][]; send: (lines: BatchedLine[]) => Promise<void> } {
  const batches: string[][] = [];
  return {
    batches,
    send: async (lines) => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      batches.push(lines.map((l) => l.line));
    },
  };
}

describe('LogBatcher', () => {
  afterEach(() => jest.useRealTimers());

  it('sends a batch as soon as maxLines are waiting', async () => {
    const c = collector();
    const b = new LogBatcher({ maxLines: 3, maxDelayMs: 60_000, send: c.send, onError: jest.fn() });
    for (let i = 0; i < 7; i++) b.push('stdout', `l${i}`);
    await b.flush();
    expect(c.batches).toEqual([['l0', 'l1', 'l2'], ['l3', 'l4', 'l5'], ['l6']]);
  });

  it('sends after maxDelayMs when fewer lines are waiting', async () => {
    jest.useFakeTimers();
    const c = collector();
    const b = new LogBatcher({ maxLines: 100, maxDelayMs: 500, send: c.send, onError: jest.fn() });
    b.push('stderr', 'a');
    b.push('stdout', 'b');
    await jest.advanceTimersByTimeAsync(499);
    expect(c.batches).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(c.batches).toEqual([['a', 'b']]);
  });

  it('never loses the tail: close() waits for in-flight and pending lines, in order', async () => {
    const c = collector(20);
    const b = new LogBatcher({ maxLines: 2, maxDelayMs: 60_000, send: c.send, onError: jest.fn() });
    for (let i = 0; i < 5; i++) b.push('stdout', `l${i}`);
    await b.close();
    expect(c.batches.flat()).toEqual(['l0', 'l1', 'l2', 'l3', 'l4']);
    expect(b.pending).toBe(0);
    b.push('stdout', 'after close');
    await b.flush();
    expect(c.batches.flat()).toHaveLength(5);
  });

  it('reports a failed send and keeps going with later batches', async () => {
    const onError = jest.fn();
    let calls = 0;
    const sent: string[] = [];
    const b = new LogBatcher({
      maxLines: 1,
      maxDelayMs: 60_000,
      send: async (lines) => {
        if (calls++ === 0) throw new Error('boom');
        sent.push(...lines.map((l) => l.line));
      },
      onError,
    });
    b.push('stdout', 'x');
    b.push('stdout', 'y');
    await b.close();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(sent).toEqual(['y']);
  });

  it('stamps each line with a timestamp and stream', async () => {
    const got: BatchedLine[] = [];
    const b = new LogBatcher({ maxLines: 10, maxDelayMs: 10, send: async (l) => void got.push(...l), onError: jest.fn() });
    b.push('system', 'hello');
    await b.close();
    expect(got[0]).toEqual({ stream: 'system', line: 'hello', ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });
});

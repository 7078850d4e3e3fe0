import { costAtHourlyRate } from './money';
import { estimateRun, MIN_HISTORY, trainingStepsOf } from './cost-estimate';

const defaults = { secondsPerStep: 4, startupSeconds: 180, source: 'default table for l40s' };

describe('run-time estimate', () => {
  it('uses the default table until there is enough history, with a wide range', () => {
    const e = estimateRun(1000, [{ steps: 100, seconds: 50 }], defaults);
    expect(e).toMatchObject({ basis: 'default_table', seconds: 4180, low: 2090, high: 8360, samples: 1 });
  });

  it('learns seconds per step and start-up from completed runs', () => {
    // 30 s start-up + 0.5 s per step, measured with some noise.
    const history = [{ steps: 100, seconds: 81 }, { steps: 200, seconds: 129 }, { steps: 400, seconds: 232 }, { steps: 800, seconds: 428 }];
    const e = estimateRun(1000, history, defaults);
    expect(e?.basis).toBe('history');
    expect(e?.secondsPerStep).toBeCloseTo(0.5, 1);
    expect(e?.startupSeconds).toBeGreaterThan(20);
    expect(e?.startupSeconds).toBeLessThan(40);
    expect(e?.seconds).toBeGreaterThan(500);
    expect(e?.seconds).toBeLessThan(560);
    expect(e!.low).toBeLessThan(e!.seconds);
    expect(e!.high).toBeGreaterThan(e!.seconds);
  });

  it('folds the start-up into each step when every run had the same length', () => {
    const e = estimateRun(40, Array.from({ length: MIN_HISTORY }, () => ({ steps: 20, seconds: 10 })), null);
    expect(e).toMatchObject({ basis: 'history', seconds: 20, startupSeconds: 0, secondsPerStep: 0.5 });
    expect(e!.low).toBeCloseTo(18);
    expect(e!.high).toBeCloseTo(22);
  });

  it('gives no estimate when nothing fits', () => {
    expect(estimateRun(1000, [], null)).toBeNull();
    expect(estimateRun(0, [], defaults)).toBeNull();
  });

  it("reads SimpleTuner's step count with or without its -- prefix", () => {
    expect(trainingStepsOf({ max_train_steps: 2000 })).toBe(2000);
    expect(trainingStepsOf({ '--max_train_steps': '1500' })).toBe(1500);
    expect(trainingStepsOf({ num_train_epochs: 3 })).toBeNull();
    expect(trainingStepsOf({ max_train_steps: -1 })).toBeNull();
  });

  it('prices seconds at an hourly rate exactly, rounding up', () => {
    expect(costAtHourlyRate(3600, 3_510_000n)).toBe(3_510_000n);
    expect(costAtHourlyRate(1, 3_510_000n)).toBe(975n);
    expect(costAtHourlyRate(0.0001, 3_510_000n)).toBe(1n);
    expect(costAtHourlyRate(0, 3_510_000n)).toBe(0n);
  });
});

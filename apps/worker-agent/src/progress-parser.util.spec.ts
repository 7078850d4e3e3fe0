import { ProgressState, parseProgressLine } from './progress-parser.util';

describe('parseProgressLine', () => {
  it('parses a progress line', () => {
    expect(parseProgressLine('{"ct":"progress","step":12,"total_steps":300,"loss":0.25}')).toEqual({
      kind: 'progress',
      step: 12,
      totalSteps: 300,
      loss: 0.25,
    });
  });

  it('tolerates surrounding whitespace and missing optional fields', () => {
    expect(parseProgressLine('  {"ct":"progress","step":0}\r')).toEqual({ kind: 'progress', step: 0, totalSteps: null, loss: null });
  });

  it('parses a checkpoint line', () => {
    expect(parseProgressLine('{"ct":"checkpoint","step":100,"path":"checkpoints/checkpoint-100"}')).toEqual({
      kind: 'checkpoint',
      step: 100,
      path: 'checkpoints/checkpoint-100',
    });
  });

  it.each([
    'step 10 loss 0.3',
    '{"step":1}',
    '{"ct":"progress"}',
    '{"ct":"progress","step":-1}',
    '{"ct":"progress","step":1.5}',
    '{"ct":"checkpoint"}',
    '{"ct":"other","step":1}',
    '{"ct":"progress","step":1',
    '[{"ct":"progress","step":1}]',
    '',
  ])('treats %j as an ordinary log line', (line) => {
    expect(parseProgressLine(line)).toBeNull();
  });

  it('drops non-numeric loss and bad totals instead of failing', () => {
    expect(parseProgressLine('{"ct":"progress","step":3,"total_steps":0,"loss":"nan"}')).toEqual({
      kind: 'progress',
      step: 3,
      totalSteps: null,
      loss: null,
    });
  });
});

describe('ProgressState', () => {
  it('keeps the latest step, total and checkpoint across events', () => {
    const state = new ProgressState();
    state.apply({ kind: 'progress', step: 1, totalSteps: 10, loss: 1 });
    state.apply({ kind: 'checkpoint', step: null, path: 'ckpt-1' });
    expect(state.apply({ kind: 'progress', step: 2, totalSteps: null, loss: 0.5 })).toEqual({
      step: 2,
      totalSteps: 10,
      loss: 0.5,
      checkpoint: 'ckpt-1',
    });
  });
});

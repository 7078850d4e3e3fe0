import { describeStatus, isReplicateTerminal, progressFromLine, progressFromLogs, toJobStatus } from './replicate-status';

describe('replicate status mapping', () => {
  it('maps every Replicate status; billing starts at processing, so starting is queued', () => {
    expect(toJobStatus('starting')).toBe('queued');
    expect(toJobStatus('processing')).toBe('running');
    expect(toJobStatus('succeeded')).toBe('completed');
    expect(toJobStatus('failed')).toBe('failed');
    expect(toJobStatus('canceled')).toBe('cancelled');
    expect(toJobStatus('aborted')).toBe('failed');
  });

  it('keeps polling an unknown future status instead of ending the job', () => {
    expect(toJobStatus('paused')).toBe('running');
    expect(isReplicateTerminal('paused')).toBe(false);
  });

  it('treats all four end states as terminal (replicate.wait() forgets aborted)', () => {
    expect(['succeeded', 'failed', 'canceled', 'aborted'].every(isReplicateTerminal)).toBe(true);
    expect(isReplicateTerminal('starting')).toBe(false);
  });

  it('explains the status for the timeline', () => {
    expect(describeStatus('failed', 'CUDA out of memory')).toBe('failed on Replicate: CUDA out of memory');
    expect(describeStatus('aborted', null)).toMatch(/before it started/);
  });
});

describe('progressFromLogs', () => {
  const simpletuner = [
    '2025-01-10 12:00:01,120 [INFO] Loading base model black-forest-labs/FLUX.1-dev',
    'Caching VAE latents: 100%|██████████| 45/45 [00:12<00:00,  3.61it/s]',
    '2025-01-10 12:00:40,002 [INFO] ***** Running training *****',
    'Steps:   0%|          | 0/1000 [00:00<?, ?it/s]',
    '\rSteps:  45%|████▌     | 450/1000 [04:10<05:06,  1.80it/s, lr=0.0001, step_loss=0.123]',
    '\rSteps:  46%|████▌     | 460/1000 [04:16<05:00,  1.80it/s, lr=0.0001, step_loss=0.0987]',
    '',
  ].join('\n');

  it('reads the last tqdm training bar, including step_loss', () => {
    expect(progressFromLogs(simpletuner)).toEqual({ step: 460, totalSteps: 1000, loss: 0.0987 });
  });

  it('splits on carriage returns, as tqdm redraws in place', () => {
    const text = ' 10%|█         | 100/1000 [00:10<01:30, loss=0.5]\r 11%|█         | 110/1000 [00:11<01:29, loss=0.45]';
    expect(progressFromLogs(text)).toEqual({ step: 110, totalSteps: 1000, loss: 0.45 });
  });

  it('ignores bars that are not the training loop', () => {
    const text = 'Steps:  20%|██        | 200/1000 [01:00<04:00, step_loss=0.2]\nCaching text embeds:  50%|█████     | 5/10 [00:01<00:01]';
    expect(progressFromLogs(text)).toEqual({ step: 200, totalSteps: 1000, loss: 0.2 });
  });

  it('reads "Step N/M" lines with a loss', () => {
    expect(progressFromLogs('[INFO] Step 450/1000 | loss: 1.5e-2 | lr: 1e-4')).toEqual({ step: 450, totalSteps: 1000, loss: 0.015 });
    expect(progressFromLine('step: 12 / 300')).toEqual({ step: 12, totalSteps: 300, loss: null });
  });

  it('reads our JSON progress protocol and ignores other ct messages', () => {
    const text = '{"ct":"progress","step":120,"total_steps":300,"loss":0.1834}\n{"ct":"checkpoint","step":100,"path":"checkpoints/checkpoint-100"}';
    expect(progressFromLogs(text)).toEqual({ step: 120, totalSteps: 300, loss: 0.1834 });
    expect(progressFromLine('{"ct":"progress","step":-1}')).toBeNull();
    expect(progressFromLine('{"ct":"progress","step":5}')).toEqual({ step: 5, totalSteps: null, loss: null });
  });

  it('prefers whichever format came last', () => {
    const text = 'Steps:  10%|█         | 100/1000 [00:10<01:30, step_loss=0.5]\n{"ct":"progress","step":101,"total_steps":1000,"loss":0.49}';
    expect(progressFromLogs(text)?.step).toBe(101);
  });

  it('returns null when there is no progress', () => {
    expect(progressFromLogs(null)).toBeNull();
    expect(progressFromLogs('')).toBeNull();
    expect(progressFromLogs('[INFO] Downloading model\nsomething {"ct" broken')).toBeNull();
  });
});

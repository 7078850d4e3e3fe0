import { join } from 'node:path';
import { eventually, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, makeDataset, submit } from './helpers';

jest.setTimeout(180_000);

interface Estimate {
  provider: string;
  hardware_profile: string | null;
  gpu_count: number | null;
  steps: number | null;
  dollars_per_second: number;
  estimate: { seconds: number; seconds_low: number; seconds_high: number; cost_usd: number; cost_usd_low: number; cost_usd_high: number; basis: string; basis_detail: string; seconds_per_step: number; startup_seconds: number; samples: number } | null;
  reason: string | null;
}

/** Cost estimates before submission, end to end: the default table first, then what this organisation's own runs measured. */
describe('cost estimate', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 100, durationMs: 1_500, logIntervalMs: 250 } });
    const { apiUrl } = await sim.start();
    t = await startTestStack({ REPLICATE_API_BASE_URL: apiUrl, REPLICATE_POLL_MIN_MS: '200', REPLICATE_POLL_MAX_MS: '400' });
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  const estimate = async (body: Record<string, unknown>) => {
    const res = await t.api('/api/cloud/cost-estimate', { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return json<Estimate>(res);
  };

  it('prices a multi-GPU profile as such from the default table, and says plainly when nothing fits', async () => {
    const e = await estimate({ provider: 'replicate', hardware_profile: 'l40s-x2', config: { max_train_steps: 2000 } });
    expect(e).toMatchObject({ provider: 'replicate', hardware_profile: 'l40s-x2', gpu_count: 2, steps: 2000 });
    expect(e.dollars_per_second).toBeCloseTo(2 * 0.000975, 9);
    expect(e.estimate?.basis).toBe('default_table');
    // 180 s start-up + 2000 steps at 4 s / (1 + 0.9) per step.
    expect(e.estimate?.seconds).toBeCloseTo(180 + 2000 * 2.105, 0);
    expect(e.estimate?.cost_usd).toBeCloseTo((e.estimate?.seconds ?? 0) * 2 * 0.000975, 3);
    expect(e.estimate!.cost_usd_low).toBeLessThan(e.estimate!.cost_usd);
    expect(e.estimate!.cost_usd_high).toBeGreaterThan(e.estimate!.cost_usd);

    const noSteps = await estimate({ provider: 'replicate', config: { num_train_epochs: 3 } });
    expect(noSteps.estimate).toBeNull();
    expect(noSteps.reason).toMatch(/max_train_steps/);
    const ownGpus = await estimate({ provider: 'worker', config: { max_train_steps: 100 } });
    expect(ownGpus).toMatchObject({ estimate: null, dollars_per_second: 0 });
    expect(ownGpus.reason).toMatch(/0 completed runs on worker/);

    const bad = await t.api('/api/cloud/cost-estimate', { method: 'POST', body: JSON.stringify({ provider: 'replicate', hardware_profile: 'a100-x3', config: {} }) });
    expect(bad.status).toBe(400);
    expect((await json(bad)).code).toBe('validation_failed');
  });

  it('learns from completed runs: the estimate moves to the measured seconds per step, and each job keeps estimate and actual', async () => {
    const body = (steps: number, dir: string) => ({ provider: 'replicate', config: { max_train_steps: steps }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dir }] });
    const before = await estimate({ provider: 'replicate', config: { max_train_steps: 20 } });
    expect(before.estimate).toMatchObject({ basis: 'default_table', seconds: 260 });
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(t, body(20, makeDataset(t.datasetRoot, `est-${i}`, join(t.datasetRoot, '..', `outside-est-${i}`)).dir)));
    // The submission answer carries the estimate it was made with.
    expect((jobs[0]?.estimate as Estimate).estimate?.basis).toBe('default_table');
    const done = [];
    for (const j of jobs) {
      done.push(await eventually(async () => {
        const now = await getJob(t, j.id as string);
        return ['completed', 'failed', 'cancelled'].includes(now.status) ? now : null;
      }, 60_000, `job ${j.id as string} to finish`));
    }
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed', 'completed']);
    for (const d of done) {
      expect(d.estimate).toMatchObject({ estimate: { basis: 'default_table' } });
      expect(d.actual.seconds).toBeGreaterThan(1);
      expect(d.actual.cost_usd).toBeGreaterThan(0);
    }
    const after = await estimate({ provider: 'replicate', config: { max_train_steps: 20 } });
    expect(after.estimate).toMatchObject({ basis: 'history', samples: 3 });
    const measured = done.map((d) => d.actual.seconds as number);
    process.stdout.write(`cost-estimate: measured ${JSON.stringify(measured)} estimate ${JSON.stringify(after.estimate)}\n`);
    // The runs took ~2 s, not the table's 260 s: the estimate is now what was measured.
    expect(after.estimate!.seconds).toBeGreaterThanOrEqual(Math.min(...measured) * 0.9);
    expect(after.estimate!.seconds).toBeLessThanOrEqual(Math.max(...measured) * 1.1);
    expect(after.estimate!.seconds_low).toBeLessThanOrEqual(Math.min(...measured) + 0.1);
    expect(after.estimate!.seconds_high).toBeGreaterThanOrEqual(Math.max(...measured) - 0.1);
  });
});

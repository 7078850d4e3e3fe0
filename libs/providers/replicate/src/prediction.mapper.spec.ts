import type { JobForProvider } from '@ct/providers-core';
import { buildInput, fileIdFromUrl, logLines, matchesJob, statusOfPrediction, webhookFor } from './prediction.mapper';

const job: JobForProvider = {
  id: 'job_1', orgId: 'org_1', name: 'flux lora', provider: 'replicate', hardwareProfile: 'l40s',
  config: { model_family: 'flux', '--push_to_hub': 'true', '--hub_model_id': 'acme/my-lora' },
  dataloader: [{ id: 'pets', instance_data_dir: 'datasets/pets' }],
};

describe('prediction mapper', () => {
  it('puts the job id in the webhook URL', () => {
    expect(webhookFor('https://ct.example.com/api/webhooks/replicate?job={jobId}', 'job 1')).toBe('https://ct.example.com/api/webhooks/replicate?job=job%201');
    expect(webhookFor('https://ct.example.com/hook?a=1', 'job_1')).toBe('https://ct.example.com/hook?a=1&ct_job=job_1');
  });

  it('builds SimpleTuner inputs, with the HF token only when pushing to the Hub', () => {
    const input = buildInput({ job, fileUrl: 'http://sim/v1/files/abc', hfToken: 'hf_x', jobIdInput: false });
    expect(input).toEqual({
      images: 'http://sim/v1/files/abc', config_json: JSON.stringify(job.config), dataloader_json: JSON.stringify(job.dataloader),
      hf_token: 'hf_x', hub_model_id: 'acme/my-lora',
    });
    const noPush = buildInput({ job: { ...job, config: { push_to_hub: false } }, fileUrl: 'u', hfToken: 'hf_x', jobIdInput: true });
    expect(noPush).not.toHaveProperty('hf_token');
    expect(noPush.ct_job_id).toBe('job_1');
  });

  it('matches a prediction by webhook, archive URL or ct_job_id', () => {
    const marker = { jobId: 'job_1', webhook: 'https://h/?ct_job=job_1', fileUrl: 'http://sim/v1/files/abc' };
    expect(matchesJob({ id: 'p', status: 'starting', webhook: 'https://h/?ct_job=job_1' }, marker)).toBe(true);
    expect(matchesJob({ id: 'p', status: 'starting', input: { images: 'http://sim/v1/files/abc' } }, marker)).toBe(true);
    expect(matchesJob({ id: 'p', status: 'starting', input: { ct_job_id: 'job_1' } }, { ...marker, webhook: null, fileUrl: null })).toBe(true);
    expect(matchesJob({ id: 'p', status: 'starting', webhook: 'https://h/?ct_job=job_10', input: {} }, marker)).toBe(false);
  });

  it('maps a finished prediction with cost, progress and error', () => {
    const s = statusOfPrediction({
      id: 'p1', status: 'failed', model: 'simpletuner/advanced-trainer-h100-x2', error: 'CUDA out of memory',
      logs: 'Steps:  10%|█ | 100/1000 [00:10<01:30, step_loss=0.5]\nTraceback ...', metrics: { predict_time: 3600 },
      input: { images: 'http://sim/v1/files/abc' }, created_at: '2025-01-01T00:00:00.000000Z',
    });
    expect(s).toMatchObject({
      status: 'failed', externalId: 'p1', error: 'CUDA out of memory', billedSeconds: 3600, replicateStatus: 'failed',
      reason: 'failed on Replicate: CUDA out of memory', profile: 'h100-x2', costMicros: 10_980_000n,
      progress: { step: 100, totalSteps: 1000, loss: 0.5 }, fileUrl: 'http://sim/v1/files/abc',
    });
  });

  it('shows the cost accrued so far while processing: seconds since started_at at the profile price', () => {
    const now = Date.parse('2025-01-01T01:00:00.000Z');
    const running = { id: 'p3', status: 'processing', model: 'simpletuner/advanced-trainer-l40s-x4', started_at: '2025-01-01T00:00:00.000000Z', metrics: {} };
    const s = statusOfPrediction(running, undefined, now);
    expect(s.costMicros).toBe(14_040_000n); // 1 h x 4 x $3.51
    expect(s).not.toHaveProperty('billedSeconds'); // not billed yet: only an accrual
    expect(statusOfPrediction({ ...running, started_at: '2025-01-01T01:00:05.000000Z' }, undefined, now).costMicros).toBe(0n); // clock skew
    expect(statusOfPrediction({ id: 'p4', status: 'starting', model: running.model }, undefined, now).costMicros).toBeNull(); // setup is free
  });

  it('tolerates the fields a create response leaves out', () => {
    const s = statusOfPrediction({ id: 'p2', status: 'starting' });
    expect(s).toMatchObject({ status: 'queued', logs: '', output: null, costMicros: null, progress: null });
    expect(s).not.toHaveProperty('billedSeconds');
  });

  it('splits logs into lines and finds file ids', () => {
    expect(logLines('a\r\nb\rc\n\n')).toEqual(['a', 'b', 'c']);
    expect(fileIdFromUrl('https://api.replicate.com/v1/files/NGZi')).toBe('NGZi');
    expect(fileIdFromUrl(null)).toBeNull();
  });
});

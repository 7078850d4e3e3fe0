import { eventually, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, submit, trainerPids } from './helpers';

jest.setTimeout(120_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('job lifecycle with real worker agents: cancel, lost workers', () => {
  let t: TestStack;
  beforeAll(async () => {
    // Leases ten heartbeats long: a machine busy enough to miss ten in a row is not what this test is about.
    t = await startTestStack({
      WORKER_HEARTBEAT_INTERVAL_MS: '1000',
      WORKER_LEASE_TTL_MS: '10000',
      WORKER_HEARTBEAT_TIMEOUT_MS: '10000',
      MONITOR_INTERVAL_MS: '500',
      WORKER_MAX_REQUEUES: '1',
    });
  });
  afterAll(async () => t?.stop());

  const slowJob = (labels: string[]) => ({
    provider: 'worker',
    worker_requirements: { labels },
    config: { max_train_steps: 100_000, step_delay_ms: 50 },
    dataloader_config: [],
  });

  it('cancelling a running job stops the trainer process', async () => {
    await t.startWorker('canceller', ['cancel-pool'], ['--cancel-grace-ms', '2000']);
    const job = await submit(t, slowJob(['cancel-pool']));
    const id = job.id as string;
    await eventually(async () => (await getJob(t, id)).progress?.step > 2, 30_000, 'training progress');
    const pids = trainerPids(id);
    expect(pids.length).toBeGreaterThan(0);
    const res = await t.api(`/api/cloud/jobs/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe('cancelled');
    await eventually(async () => pids.every((p) => !alive(p)), 15_000, 'trainer to stop');
    const final = await getJob(t, id);
    expect(final.status).toBe('cancelled');
    // A cancelled job cannot be cancelled again, and the worker moves on to the next job.
    expect((await t.api(`/api/cloud/jobs/${id}/cancel`, { method: 'POST' })).status).toBe(409);
    const next = await submit(t, { ...slowJob(['cancel-pool']), config: { max_train_steps: 5 } });
    await eventually(async () => (await getJob(t, next.id as string)).status === 'completed', 30_000, 'next job to complete');
  });

  it('a worker killed mid-run has its job requeued once, then failed with a reason that says so', async () => {
    const first = await t.startWorker('doomed-1', ['flaky-pool']);
    const job = await submit(t, slowJob(['flaky-pool']));
    const id = job.id as string;
    await eventually(async () => (await getJob(t, id)).progress?.step > 2, 30_000, 'training on the first worker');
    // The machine dies: agent and trainer vanish at once, no goodbye.
    first.kill('SIGKILL');
    for (const p of trainerPids(id)) process.kill(p, 'SIGKILL');
    const requeued = await eventually(async () => {
      const j = await getJob(t, id);
      return j.status === 'queued' ? j : null;
    }, 40_000, 'requeue');
    expect(requeued.requeue_count).toBe(1);

    const second = await t.startWorker('doomed-2', ['flaky-pool']);
    await eventually(async () => {
      const j = await getJob(t, id);
      return j.status === 'running' && j.progress?.step > 2;
    }, 30_000, 'training on the second worker');
    second.kill('SIGKILL');
    for (const p of trainerPids(id)) process.kill(p, 'SIGKILL');
    const failed = await eventually(async () => {
      const j = await getJob(t, id);
      return j.status === 'failed' ? j : null;
    }, 40_000, 'final failure');
    expect(failed.error).toMatch(/worker doomed-2 stopped sending heartbeats; not requeued again/);
    const events = await json<{ events: Array<{ to_status: string; reason: string }> }>(await t.api(`/api/cloud/jobs/${id}/events`));
    expect(events.events.map((e) => e.to_status)).toEqual(
      expect.arrayContaining(['queued', 'running', 'failed']),
    );
    expect(events.events.find((e) => e.reason.includes('requeued (1 of 1)'))).toBeTruthy();
    const workers = await json<{ workers: Array<{ name: string; status: string }> }>(await t.api('/api/admin/workers'));
    expect(workers.workers.find((w) => w.name === 'doomed-1')?.status).toBe('offline');
  });
});

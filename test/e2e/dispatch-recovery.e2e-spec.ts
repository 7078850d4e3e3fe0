import { join } from 'node:path';
import { createPrismaClient } from '@ct/persistence';
import { eventually, freePort, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, makeDataset, submit } from './helpers';

jest.setTimeout(240_000);

/**
 * A dispatcher killed while Replicate had accepted its request but not yet answered: the replica that
 * takes the job over must neither upload the archive a second time (and leave the first copy behind) nor
 * fail the job because the prediction it finds already runs.
 */
describe('dispatch survives a dispatcher killed mid-request, with one upload, one prediction and nothing left behind', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 300, durationMs: 2_500, logIntervalMs: 250 } });
    const { apiUrl } = await sim.start();
    const port = await freePort();
    t = await startTestStack({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      REPLICATE_API_BASE_URL: apiUrl,
      REPLICATE_POLL_MIN_MS: '500',
      REPLICATE_POLL_MAX_MS: '1500',
      REPLICATE_POLL_WITH_WEBHOOKS_MS: '2000',
    });
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    // These jobs' datasets go to Replicate: the organisation allows it (consent has its own e2e).
    expect((await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'allow' }) })).status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  const filesOf = (jobId: string) => sim.uploadedFiles().filter((f) => (f.metadata as { ct_job_id?: string } | null)?.ct_job_id === jobId);
  const predictionsOf = (jobId: string) => sim.predictions().filter((p) => JSON.stringify(p.webhook ?? '').includes(jobId));

  async function killDispatcherAndStartAnother(): Promise<void> {
    const [dispatcher] = t.instances.dispatcher!;
    const gone = new Promise((r) => dispatcher!.proc.once('exit', r));
    dispatcher!.proc.kill('SIGKILL');
    await gone;
    await dispatcher!.respawn();
  }

  async function finished(id: string) {
    return eventually(async () => {
      const j = await getJob(t, id);
      return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : null;
    }, 120_000, `job ${id} to finish`);
  }

  it('an upload accepted by Replicate is found and reused, and every copy is deleted at the end', async () => {
    sim.script.holdAnswer(30_000, 1, 'POST /v1/files');
    const ds = makeDataset(t.datasetRoot, 'recover-upload', join(t.datasetRoot, '..', 'outside-ru'));
    const job = await submit(t, { provider: 'replicate', config: { max_train_steps: 20 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds.dir }] });
    const id = job.id as string;
    await eventually(async () => filesOf(id).length === 1, 30_000, 'the archive to reach Replicate');
    const killedAt = Date.now();
    await killDispatcherAndStartAnother();
    // Taken over once the dead worker's BullMQ lock (15 s) lapses and a stalled check (every 5 s) sees it:
    // the old processor settings made such jobs wait 32-42 s.
    await eventually(async () => (await getJob(t, id)).status !== 'uploading', 60_000, 'another dispatcher to take the job over');
    const takeoverS = (Date.now() - killedAt) / 1000;
    process.stdout.write(`dispatch-recovery: job taken over ${takeoverS.toFixed(1)} s after its dispatcher was killed\n`);
    expect(takeoverS).toBeLessThan(30);
    const done = await finished(id);
    expect(done.status).toBe('completed');
    expect(filesOf(id)).toHaveLength(1);
    expect(predictionsOf(id)).toHaveLength(1);
    await eventually(async () => filesOf(id).every((f) => f.deletedAtMs !== null), 30_000, 'every uploaded copy to be deleted');
    // Finalize writes its timeline notes after the deletions: wait for them (and for the job to be finalized) before counting.
    const prisma = createPrismaClient(t.databaseUrl, 1);
    await eventually(async () => (await prisma.job.findUniqueOrThrow({ where: { id } })).finalizedAt !== null, 30_000, 'the job to be finalized');
    await prisma.$disconnect();
    const timeline = await json<{ events: Array<{ reason: string }> }>(await t.api(`/api/cloud/jobs/${id}/events`));
    expect(timeline.events.filter((e) => e.reason.startsWith('uploaded archive deleted from Replicate'))).toHaveLength(1);
  });

  it('a prediction created while the dispatcher died is adopted in whatever state it is (here: already processing), not failed', async () => {
    // A long run, so the prediction is processing when the next dispatcher finds it (uploading -> running).
    sim.script.setDefaults({ durationMs: 120_000 });
    sim.script.holdAnswer(30_000, 1, 'POST /v1/predictions');
    const ds = makeDataset(t.datasetRoot, 'recover-create', join(t.datasetRoot, '..', 'outside-rc'));
    const job = await submit(t, { provider: 'replicate', config: { max_train_steps: 20 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds.dir }] });
    const id = job.id as string;
    await eventually(async () => predictionsOf(id).length === 1, 30_000, 'the prediction to be created');
    await killDispatcherAndStartAnother();
    const running = await eventually(async () => {
      const j = await getJob(t, id);
      return j.status === 'running' || ['failed', 'completed', 'cancelled'].includes(j.status) ? j : null;
    }, 60_000, 'the adopted run to show as running');
    expect(running.status).toBe('running');
    sim.script.setDefaults({ durationMs: 2_500 });
    sim.script.finishRun(running.external_id, 'succeeded');
    const done = await finished(id);
    expect(done.status).toBe('completed');
    expect(predictionsOf(id)).toHaveLength(1);
    expect(filesOf(id)).toHaveLength(1);
    const prisma = createPrismaClient(t.databaseUrl, 1);
    const adopted = await prisma.jobEvent.findFirst({ where: { jobId: id, data: { path: ['adopted'], equals: true } } });
    await prisma.$disconnect();
    expect(adopted).not.toBeNull();
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { DomainError } from '@ct/job-domain';
import type { JobForProvider, PackageRef, RunContext } from '@ct/providers-core';
// @ct/testing does not export the simulator yet; switch to `from '@ct/testing'` once its index does
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ReplicateSimulator } from '../../../testing/src/replicate-sim';
import { costOf } from './hardware-profiles';
import { InMemoryReplayGuard } from './replay.guard';
import { ReplicateProviderError } from './replicate-errors';
import { MISSING_TOKEN_MESSAGE, ReplicatePlugin } from './replicate.plugin';
import { webhookFor } from './prediction.mapper';
import type { ReplicateAttempt, ReplicateJobStatus, ReplicatePluginOptions, ReplicateRunResult, ReplicateState } from './replicate.types';
import { WebhookVerifier } from './webhook-verifier';

/** The plugin against the Replicate simulator, through the real `replicate` client. */
jest.setTimeout(30_000);

const ARCHIVE = Buffer.from('PK\u0003\u0004 simulated zip '.padEnd(4096, 'z'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function newJob(over: Partial<JobForProvider> = {}): JobForProvider {
  seq += 1;
  return {
    id: `job_${seq}_${Date.now()}`, orgId: 'org_1', name: 'pets lora', provider: 'replicate', hardwareProfile: 'h100', status: 'uploading',
    config: { model_family: 'flux', max_train_steps: 100 }, dataloader: [{ id: 'pets', instance_data_dir: 'datasets/pets' }],
    externalId: null, state: null, createdAt: new Date(), ...over,
  };
}
const pkg = (bytes = ARCHIVE.length): PackageRef => ({ bucket: 'datasets', key: 'org_1/job.zip', archiveBytes: bytes });

describe('ReplicatePlugin against the simulator', () => {
  let sim: ReplicateSimulator;
  // The job rows' provider_state, as the dispatcher would keep it between runJob calls.
  const states = new Map<string, ReplicateState>();
  const history: Array<[string, ReplicateAttempt['phase']]> = [];
  let archive = ARCHIVE;
  const attemptOf = (jobId: string): ReplicateAttempt | undefined => states.get(jobId)?.attempt;
  const setAttempt = (jobId: string, attempt: ReplicateAttempt) => states.set(jobId, { ...states.get(jobId), attempt });

  function plugin(over: Partial<Omit<ReplicatePluginOptions, 'webhookUrl'>> & { webhookUrl?: string } = {}): ReplicatePlugin {
    const { webhookUrl, ...rest } = over;
    return new ReplicatePlugin({
      token: sim.token, baseUrl: sim.apiUrl, openPackage: async () => Readable.from([archive]),
      sleep: () => sleep(20),
      ...(webhookUrl ? { webhookUrl: (id: string) => webhookFor(webhookUrl, id) } : {}),
      ...rest,
    });
  }

  /** runJob as the dispatcher calls it: the job's saved state in, every saved state recorded. */
  function runJob(p: ReplicatePlugin, job: JobForProvider, ref: PackageRef): Promise<ReplicateRunResult> {
    const ctx: RunContext = {
      signal: new AbortController().signal,
      saveState: async (state) => {
        const st = state as ReplicateState;
        if (st.attempt && st.attempt.phase !== attemptOf(job.id)?.phase) history.push([job.id, st.attempt.phase]);
        states.set(job.id, st);
      },
    };
    return p.runJob({ ...job, state: states.get(job.id) ?? null }, ref, ctx);
  }

  async function untilTerminal(p: ReplicatePlugin, id: string): Promise<ReplicateJobStatus> {
    for (let i = 0; i < 300; i++) {
      const s = await p.getJobStatus(id);
      if (s && ['completed', 'failed', 'cancelled'].includes(s.status)) return s;
      await sleep(50);
    }
    throw new Error(`prediction ${id} did not finish`);
  }

  beforeAll(async () => {
    // speed 100: a 60 s simulated run takes 0.6 s and reports predict_time ≈ 60
    sim = new ReplicateSimulator({ speed: 100, defaults: { queueMs: 5_000, durationMs: 60_000, logIntervalMs: 10_000 }, webhooks: { retries: 1, retryDelaysMs: [50], throttleMs: 0 } });
    await sim.start();
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    sim.reset();
    sim.script.setDefaults({ failMessage: null });
    archive = ARCHIVE;
  });

  it('runs a job to completion: upload, newest version, output, billed seconds and the profile cost', async () => {
    const p = plugin();
    const job = newJob({ hardwareProfile: 'h100-x4' });
    const run = await runJob(p, job, pkg());
    expect(run).toMatchObject({ status: 'queued', profile: 'h100-x4', resumed: false });
    expect(run.version).toMatch(/^simpletuner\/advanced-trainer-h100-x4:[0-9a-f]{64}$/);
    expect(history.filter(([id]) => id === job.id).map(([, phase]) => phase)).toEqual(['uploading', 'uploaded', 'creating', 'created']);

    const [file] = sim.uploadedFiles();
    expect(file).toMatchObject({ id: run.fileId, name: `ct-job-${job.id}.zip`, size: ARCHIVE.length, field: 'content', content_type: 'application/zip' });
    const [created] = sim.predictions();
    const input = created!.input as Record<string, unknown>;
    expect(input.images).toBe(run.fileUrl);
    expect(JSON.parse(String(input.config_json))).toEqual(job.config);
    expect(JSON.parse(String(input.dataloader_json))).toEqual(job.dataloader);

    const done = await untilTerminal(p, run.externalId);
    expect(done).toMatchObject({ status: 'completed', replicateStatus: 'succeeded', profile: 'h100-x4' });
    expect(typeof done.output).toBe('string');
    expect(done.billedSeconds).toBeGreaterThanOrEqual(59);
    expect(done.costMicros).toBe(costOf('h100-x4', done.billedSeconds!));
    expect(done.progress).toEqual({ step: 100, totalSteps: 100, loss: expect.any(Number) });
    expect((await p.getJobLogs(run.externalId)).length).toBeGreaterThan(3);

    expect(await p.deleteFile(run.fileId!)).toBe(true);
    expect(await p.deleteFile(run.fileId!)).toBe(false);
  });

  it('reports a failed run with the provider error text', async () => {
    sim.script.setDefaults({ failMessage: 'torch.OutOfMemoryError: CUDA out of memory' });
    const p = plugin();
    const run = await runJob(p, newJob(), pkg());
    const done = await untilTerminal(p, run.externalId);
    expect(done).toMatchObject({ status: 'failed', error: 'torch.OutOfMemoryError: CUDA out of memory', reason: 'failed on Replicate: torch.OutOfMemoryError: CUDA out of memory' });
  });

  it('refuses a bad version permanently with Replicate\'s detail', async () => {
    const p = plugin({ versionOverride: 'simpletuner/advanced-trainer-h100:' + '0'.repeat(64) });
    const err = await runJob(p, newJob(), pkg()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicateProviderError);
    expect(err).toMatchObject({ retryable: false, status: 422 });
    expect((err as Error).message).toContain('The specified version does not exist');
  });

  it('cancels a run; cancelling an unknown one is not an error', async () => {
    const p = plugin();
    const run = await runJob(p, newJob(), pkg());
    await p.cancelJob(run.externalId);
    expect(await p.getJobStatus(run.externalId)).toMatchObject({ status: 'cancelled', replicateStatus: 'canceled' });
    await expect(p.cancelJob('doesnotexist00000000000000')).resolves.toBeUndefined();
    expect(await p.getJobStatus('doesnotexist00000000000000')).toBeNull();
  });

  it('refuses an over-size package before uploading anything', async () => {
    const p = plugin({ maxUploadBytes: 1000 });
    expect(p.capabilities.maxUploadBytes).toBe(1000);
    await expect(runJob(p, newJob(), pkg(5000))).rejects.toMatchObject({ name: 'PackageTooLargeError', retryable: false });
    // the recorded size lies: the stream is cut at the limit, still before the upload
    await expect(runJob(p, newJob(), pkg(500))).rejects.toMatchObject({ name: 'PackageTooLargeError' });
    expect(sim.requestCounts()['POST /v1/files']).toBeUndefined();
    expect(sim.uploadedFiles()).toHaveLength(0);
    expect(sim.rejectedUploads()).toHaveLength(0);
  });

  it('survives a 429 storm and a 5xx storm', async () => {
    const p = plugin();
    sim.script.throttleNext(8, 'POST /v1/predictions', 0);
    sim.script.failNext(503, 8, 'GET /v1/models/*/*/versions');
    const run = await runJob(p, newJob(), pkg());
    expect(run.externalId).toBeTruthy();
    expect(sim.predictions()).toHaveLength(1);
    expect(sim.requestCounts()['POST /v1/predictions']).toBe(9);
  });

  it('a 5xx on create looks for the prediction before creating again', async () => {
    const p = plugin();
    sim.script.failNext(500, 1, 'POST /v1/predictions');
    await runJob(p, newJob(), pkg());
    expect(sim.predictions()).toHaveLength(1);
  });

  it('hands a long Retry-After to the queue instead of sleeping', async () => {
    const p = plugin();
    sim.script.throttleNext(20, 'GET /v1/account', 30);
    const err = await p.validateCredentials().catch((e: unknown) => e);
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 30_000, status: 429 });
  });

  it('a dropped connection on create leaves exactly one prediction, and runJob returns it', async () => {
    const p = plugin();
    sim.script.dropConnectionOnNextCreate();
    const run = await runJob(p, newJob(), pkg());
    expect(sim.predictions()).toHaveLength(1);
    expect(sim.predictions()[0]!.id).toBe(run.externalId);
    expect(sim.requestCounts()['POST /v1/predictions']).toBe(1);
  });

  it('a retried runJob after a crash between create and record resumes the same prediction', async () => {
    const p = plugin();
    const job = newJob();
    const first = await runJob(p, job, pkg());
    setAttempt(job.id, { ...attemptOf(job.id)!, phase: 'creating', externalId: null });
    const again = await runJob(p, job, pkg());
    expect(again).toMatchObject({ externalId: first.externalId, resumed: true, fileId: first.fileId });
    expect(sim.predictions()).toHaveLength(1);
    expect(sim.uploadedFiles()).toHaveLength(1);
    expect((await p.findExisting(job.id, attemptOf(job.id)))?.id).toBe(first.externalId);
    // without the recorded attempt only the webhook URL or the ct_job_id input can identify it
    expect(await p.findExisting(job.id)).toBeNull();
  });

  it('findExisting works from the job id alone with the ct_job_id input or a webhook URL', async () => {
    const withInput = plugin({ jobIdInput: true });
    const a = newJob();
    const runA = await runJob(withInput, a, pkg());
    expect((sim.predictions()[0]!.input as Record<string, unknown>).ct_job_id).toBe(a.id);
    expect((await withInput.findExisting(a.id))?.id).toBe(runA.externalId);
    const withHook = plugin({ webhookUrl: 'http://127.0.0.1:9/hook' });
    const b = newJob();
    const runB = await runJob(withHook, b, pkg());
    expect((await withHook.findExisting(b.id))?.id).toBe(runB.externalId);
    expect(await withHook.findExisting('job_unknown')).toBeNull();
  });

  it('a retried runJob after a crash before create reuses the upload', async () => {
    const p = plugin();
    const job = newJob();
    await runJob(p, job, pkg());
    sim.reset();
    const file = await runJob(plugin(), newJob(), pkg());
    setAttempt(job.id, { ...attemptOf(job.id)!, phase: 'uploaded', fileId: file.fileId, fileUrl: file.fileUrl, externalId: null });
    await runJob(p, job, pkg());
    expect(sim.uploadedFiles()).toHaveLength(1);
    expect(sim.predictions()).toHaveLength(2);
  });

  it('finalize deletes the recorded archive without listing the account\'s files', async () => {
    const p = plugin();
    const job = newJob();
    const run = await runJob(p, job, pkg());
    const before = sim.requestCounts()['GET /v1/files'] ?? 0;
    const done = await p.finalize({ ...job, status: 'running', externalId: run.externalId, state: states.get(job.id) ?? null });
    expect(sim.requestCounts()['GET /v1/files'] ?? 0).toBe(before);
    expect(sim.requestCounts()['DELETE /v1/files/:id']).toBe(1);
    expect(sim.uploadedFiles().filter((f) => !f.deletedAtMs)).toHaveLength(0);
    expect(done.state).toMatchObject({ files: [] });
  });

  it('an upload a dying attempt never recorded is found and deleted at finalize, re-dispatched or not', async () => {
    const p = plugin();
    const live = (jobId: string) => sim.uploadedFiles().filter((f) => !f.deletedAtMs && (f.metadata as Record<string, unknown>).ct_job_id === jobId);
    // Not re-dispatched (e.g. cancelled meanwhile): the last record says "uploading", the archive arrived.
    const lone = newJob();
    await runJob(p, lone, pkg());
    states.set(lone.id, { attempt: { ...attemptOf(lone.id)!, phase: 'uploading', fileId: null, fileUrl: null, externalId: null }, files: [] });
    await p.finalize({ ...lone, status: 'cancelled', externalId: null, state: states.get(lone.id) ?? null });
    expect(live(lone.id)).toHaveLength(0);

    // Re-dispatched: the next attempt reuses the found copy and finalize still looks for a late one.
    const job = newJob();
    await runJob(p, job, pkg());
    states.set(job.id, { attempt: { ...attemptOf(job.id)!, phase: 'uploading', fileId: null, fileUrl: null, externalId: null }, files: [] });
    const run = await runJob(p, job, pkg());
    expect(live(job.id)).toHaveLength(1);
    expect(states.get(job.id)).toMatchObject({ unrecordedUpload: true });
    const listsBefore = sim.requestCounts()['GET /v1/files'] ?? 0;
    const done = await p.finalize({ ...job, status: 'running', externalId: run.externalId, state: states.get(job.id) ?? null });
    expect(sim.requestCounts()['GET /v1/files']).toBeGreaterThan(listsBefore);
    expect(live(job.id)).toHaveLength(0);
    expect(done.state).toMatchObject({ files: [], unrecordedUpload: false });
  });

  it('says how to set the token when it is missing, on every call', async () => {
    const p = plugin({ token: null });
    for (const call of [() => runJob(p, newJob(), pkg()), () => p.getJobStatus('x'), () => p.cancelJob('x'), () => p.validateCredentials(), () => p.listJobs(5)]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('provider_not_configured');
      expect((err as Error).message.startsWith('REPLICATE_API_TOKEN not set')).toBe(true);
      expect((err as Error).message).toBe(MISSING_TOKEN_MESSAGE);
    }
    expect(sim.requests()).toHaveLength(0);
  });

  it('validates credentials and lists jobs', async () => {
    expect(await plugin().validateCredentials()).toMatchObject({ ok: true, account: { username: 'sim-user' } });
    const bad = await plugin({ token: 'r8_wrong' }).validateCredentials();
    expect(bad).toMatchObject({ ok: false });
    expect(bad.error).toContain('You did not pass a valid authentication token');
    const p = plugin();
    const a = await runJob(p, newJob(), pkg());
    const b = await runJob(p, newJob({ hardwareProfile: 'l40s' }), pkg());
    expect((await p.listJobs(10)).map((j) => j.externalId)).toEqual([b.externalId, a.externalId]);
    expect(await p.listJobs(1)).toHaveLength(1);
  });

  describe('webhooks', () => {
    let receiver: http.Server;
    let base: string;
    const hooks: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];

    beforeAll(async () => {
      receiver = http.createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => {
          hooks.push({ url: req.url ?? '', headers: req.headers, body });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

    it('signs deliveries the verifier accepts, once each, and names the job in the URL', async () => {
      const p = plugin({ webhookUrl: `${base}/api/webhooks/replicate?job={jobId}` });
      const job = newJob();
      const run = await runJob(p, job, pkg());
      await untilTerminal(p, run.externalId);
      await sim.waitForWebhooks();
      expect(hooks.length).toBeGreaterThanOrEqual(2);
      const verifier = new WebhookVerifier({ getSecret: () => p.fetchWebhookSecret(), replayGuard: new InMemoryReplayGuard() });
      for (const h of hooks) {
        expect(h.url).toBe(`/api/webhooks/replicate?job=${job.id}`);
        const r = await verifier.verify({ headers: h.headers, rawBody: h.body });
        expect(r.ok).toBe(true);
      }
      const last = hooks[hooks.length - 1]!;
      const replay = await verifier.verify({ headers: last.headers, rawBody: last.body });
      expect(replay).toMatchObject({ ok: false, reason: 'replayed' });
      const tampered = await new WebhookVerifier({ getSecret: () => p.fetchWebhookSecret(), replayGuard: new InMemoryReplayGuard() }).verify({ headers: last.headers, rawBody: last.body.replace('succeeded', 'failed') });
      expect(tampered).toMatchObject({ ok: false, reason: 'bad_signature' });
      const final = JSON.parse(last.body) as { status: string; id: string; webhook: string };
      expect(p.statusFromWebhook(final as never)).toMatchObject({ status: 'completed', externalId: run.externalId });
      expect(final.webhook).toContain(job.id);
    });
  });
});

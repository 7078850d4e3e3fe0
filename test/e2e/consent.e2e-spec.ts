import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { eventually, makeOrg, ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, makeDataset, submit } from './helpers';

jest.setTimeout(180_000);

interface Preview {
  provider: string;
  digest: string;
  files: number;
  bytes: number;
  datasets: Array<{ id: string; path: string; files: number; bytes: number; excluded: Record<string, number>; excludedTotal: number; excludedFiles: Array<{ path: string; reason: string }> }>;
}
interface TimelineEvent {
  from_status: string | null;
  to_status: string;
  reason: string;
  data: Record<string, unknown> | null;
}

/**
 * Consent before upload (MISSION §3), end to end: the services as processes, the Replicate simulator over
 * HTTP. `ask` holds a job before anything leaves, showing what would; a confirmation is bound to the digest
 * of what was shown; `deny` refuses before a job exists; `allow` needs no prompt. Every decision is on the timeline.
 */
describe('consent before upload', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  let prisma: PrismaClient;
  let n = 0;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 200, durationMs: 1_000, logIntervalMs: 250 } });
    const { apiUrl } = await sim.start();
    t = await startTestStack({ REPLICATE_API_BASE_URL: apiUrl, REPLICATE_POLL_MIN_MS: '300', REPLICATE_POLL_MAX_MS: '800', CONSENT_EXPIRY_INTERVAL_MS: '500' });
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token, default_profile: 'l40s' }) })).status).toBe(200);
    prisma = createPrismaClient(t.databaseUrl, 1);
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await t?.stop();
    await sim?.stop();
  });

  const setMode = async (mode: string, key?: string) => {
    const res = await t.api('/api/cloud/data-consent/setting', { method: 'PUT', key, body: JSON.stringify({ mode }) });
    expect(res.status).toBe(200);
  };
  const dataset = () => makeDataset(t.datasetRoot, `consent-${++n}`, join(t.datasetRoot, '..', `outside-consent-${n}`));
  const replicateJob = (dir: string, extra: Record<string, unknown> = {}) => ({ provider: 'replicate', config: { max_train_steps: 20 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dir }], ...extra });
  const inState = (id: string, statuses: string[], what: string) =>
    eventually(async () => {
      const j = await getJob(t, id);
      return statuses.includes(j.status) ? j : null;
    }, 60_000, what);
  const timeline = async (id: string) => (await json<{ events: TimelineEvent[] }>(await t.api(`/api/cloud/jobs/${id}/events`))).events;
  const uploadsOf = (id: string) => sim.uploadedFiles().filter((f) => (f.metadata as { ct_job_id?: string } | null)?.ct_job_id === id);
  const answer = (id: string, body: Record<string, unknown>, key?: string) => t.api(`/api/cloud/jobs/${id}/consent`, { method: 'POST', key, body: JSON.stringify(body) });

  it('ask (the default): the job waits showing what would leave, and runs once the user confirms that digest', async () => {
    expect(await json(await t.api('/api/cloud/data-consent/setting'))).toEqual({ mode: 'ask', timeout_seconds: 86_400 });
    const ds = dataset();
    const job = await submit(t, replicateJob(ds.dir));
    const id = job.id as string;
    const waiting = await inState(id, ['awaiting_consent'], 'the job to wait for consent');
    const request = waiting.consent_request as Preview;
    expect(request.provider).toBe('replicate');
    expect(request.files).toBe(ds.allowed.length);
    expect(request.datasets[0]).toMatchObject({ id: 'set', files: ds.allowed.length });
    // What is left out is named, with the reason: the user sees the .env and the key stayed behind.
    expect(request.datasets[0]?.excludedFiles).toEqual(expect.arrayContaining([{ path: '.env', reason: 'env_file' }, { path: '.git', reason: 'vcs' }, { path: 'linked.txt', reason: 'symlink_outside' }]));
    expect(request.datasets[0]?.excluded.env_file).toBe(1);
    expect(Date.parse(waiting.consent_deadline as string)).toBeGreaterThan(Date.now() + 86_000_000);
    // Nothing was written anywhere while it waits: no package, no upload to the provider.
    expect(waiting.package).toBeNull();
    expect(uploadsOf(id)).toEqual([]);

    const confirmed = await answer(id, { decision: 'confirm', digest: request.digest });
    expect(confirmed.status).toBe(200);
    const done = await inState(id, ['completed', 'failed', 'cancelled'], 'the consented job to finish');
    expect(done.status).toBe('completed');
    expect(uploadsOf(id)).toHaveLength(1);
    const events = await timeline(id);
    const requested = events.find((e) => e.data?.consent === 'requested');
    const given = events.find((e) => e.data?.consent === 'confirmed');
    expect(requested).toMatchObject({ from_status: 'packaging', to_status: 'awaiting_consent', data: { digest: request.digest, provider: 'replicate' } });
    expect(given).toMatchObject({ from_status: 'awaiting_consent', to_status: 'pending', data: { digest: request.digest, provider: 'replicate', by: expect.any(String) } });
    expect(events.some((e) => e.data?.consent === 'consented' && e.data.digest === request.digest)).toBe(true);
  });

  it('decline cancels the job and nothing reaches the provider', async () => {
    const job = await submit(t, replicateJob(dataset().dir));
    const id = job.id as string;
    await inState(id, ['awaiting_consent'], 'the job to wait for consent');
    const res = await answer(id, { decision: 'decline' });
    expect(res.status).toBe(200);
    expect((await json(res)).status).toBe('cancelled');
    const events = await timeline(id);
    expect(events.at(-1)).toMatchObject({ to_status: 'cancelled', data: { consent: 'declined', provider: 'replicate' } });
    expect(uploadsOf(id)).toEqual([]);
    expect((await getJob(t, id)).external_id).toBeNull();
  });

  it('asks again when the datasets changed after consent, and a consent given at submission covers only what was previewed', async () => {
    const ds = dataset();
    const job = await submit(t, replicateJob(ds.dir));
    const id = job.id as string;
    const first = (await inState(id, ['awaiting_consent'], 'the first consent request')).consent_request as Preview;
    writeFileSync(join(ds.dir, 'added-after-consent.jpg'), 'new bytes');
    expect((await answer(id, { decision: 'confirm', digest: first.digest })).status).toBe(200);
    // The packager scans again: what it found is not what the user saw, so it asks again.
    const second = await eventually(async () => {
      const j = await getJob(t, id);
      const req = j.consent_request as Preview | null;
      return j.status === 'awaiting_consent' && req && req.digest !== first.digest ? req : null;
    }, 60_000, 'a second consent request');
    expect(second.files).toBe(first.files + 1);
    expect((await timeline(id)).some((e) => e.to_status === 'awaiting_consent' && e.reason.startsWith('the datasets changed since consent was given'))).toBe(true);
    expect(uploadsOf(id)).toEqual([]);
    // The old digest no longer confirms anything.
    const stale = await answer(id, { decision: 'confirm', digest: first.digest });
    expect(stale.status).toBe(409);
    expect((await json(stale)).code).toBe('consent_digest_mismatch');
    expect((await answer(id, { decision: 'decline' })).status).toBe(200);

    // Consent at submission: the digest of a preview. Changed after the preview → asked; unchanged → runs with no prompt.
    const ds2 = dataset();
    const previewOf = async () => {
      const res = await t.api('/api/cloud/data-consent/preview', { method: 'POST', body: JSON.stringify({ provider: 'replicate', dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: ds2.dir }] }) });
      expect(res.status).toBe(200);
      return json<{ mode: string; required: boolean; refused: boolean; preview: Preview }>(res);
    };
    const shown = await previewOf();
    expect(shown).toMatchObject({ mode: 'ask', required: true, refused: false, preview: { provider: 'replicate', files: ds2.allowed.length } });
    writeFileSync(join(ds2.dir, 'img0.jpg'), 'rewritten after the preview');
    const changed = await submit(t, replicateJob(ds2.dir, { consent_digest: shown.preview.digest }));
    await inState(changed.id as string, ['awaiting_consent'], 'a job whose data changed after the preview to ask');
    expect((await answer(changed.id as string, { decision: 'decline' })).status).toBe(200);
    const fresh = await previewOf();
    const ok = await submit(t, replicateJob(ds2.dir, { consent_digest: fresh.preview.digest }));
    const done = await inState(ok.id as string, ['completed', 'failed', 'cancelled'], 'the job consented at submission to finish');
    expect(done.status).toBe('completed');
    const events = await timeline(ok.id as string);
    expect(events.some((e) => e.to_status === 'awaiting_consent')).toBe(false);
    expect(events[0]).toMatchObject({ to_status: 'pending', data: { consent: 'given_at_submission', digest: fresh.preview.digest, provider: 'replicate' } });
  });

  it('allow: no prompt, and the timeline says the setting allowed it; deny: 422 before a job exists', async () => {
    await setMode('allow');
    try {
      const job = await submit(t, replicateJob(dataset().dir));
      const done = await inState(job.id as string, ['completed', 'failed', 'cancelled'], 'the allowed job to finish');
      expect(done.status).toBe('completed');
      const events = await timeline(job.id as string);
      expect(events.some((e) => e.to_status === 'awaiting_consent')).toBe(false);
      expect(events.some((e) => e.data?.consent === 'setting_allows' && e.data.provider === 'replicate')).toBe(true);

      await setMode('deny');
      const before = await prisma.job.count();
      const refused = await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify(replicateJob(dataset().dir)) });
      expect(refused.status).toBe(422);
      expect(await json(refused)).toMatchObject({ code: 'consent_denied', status: 422 });
      expect(await prisma.job.count()).toBe(before);
      // Jobs on this machine, and a Replicate job without local data, are not uploads of local data.
      // (This stack runs no local worker: packaged and queued for it is as far as the job goes.)
      const local = await submit(t, { provider: 'local', config: { max_train_steps: 5 }, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dataset().dir }] });
      expect((await inState(local.id as string, ['queued', 'awaiting_consent', 'failed'], 'the local job to be packaged')).status).toBe('queued');
      await t.api(`/api/cloud/jobs/${local.id as string}/cancel`, { method: 'POST' });
      const preview = await json<{ refused: boolean }>(await t.api('/api/cloud/data-consent/preview', { method: 'POST', body: JSON.stringify({ provider: 'replicate', dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dataset().dir }] }) }));
      expect(preview.refused).toBe(true);
    } finally {
      await setMode('ask');
    }
  });

  it('self-hosted workers ask only when the organisation says its workers are outside its infrastructure', async () => {
    const body = (dir: string) => ({ provider: 'worker', worker_requirements: { labels: ['no-such-pool'] }, config: {}, dataloader_config: [{ id: 'set', type: 'local', instance_data_dir: dir }] });
    const plain = await submit(t, body(dataset().dir));
    expect((await inState(plain.id as string, ['queued', 'awaiting_consent'], 'the worker job to be queued')).status).toBe('queued');
    expect((await t.api('/api/cloud/providers/worker/config', { method: 'PUT', body: JSON.stringify({ data_leaves_infrastructure: true }) })).status).toBe(200);
    try {
      const rented = await submit(t, body(dataset().dir));
      expect((await inState(rented.id as string, ['queued', 'awaiting_consent'], 'the rented-worker job')).status).toBe('awaiting_consent');
      // Cancel works from awaiting_consent like from any active state.
      expect((await t.api(`/api/cloud/jobs/${rented.id as string}/cancel`, { method: 'POST' })).status).toBe(200);
    } finally {
      await t.api('/api/cloud/providers/worker/config', { method: 'PUT', body: JSON.stringify({ data_leaves_infrastructure: false }) });
      await t.api(`/api/cloud/jobs/${plain.id as string}/cancel`, { method: 'POST' });
    }
  });

  it('no answer in time cancels the job, and says so', async () => {
    const job = await submit(t, replicateJob(dataset().dir));
    const id = job.id as string;
    await inState(id, ['awaiting_consent'], 'the job to wait for consent');
    // The deadline is a day away; move it to the past rather than wait (the sweep runs every 500 ms here).
    await prisma.job.update({ where: { id }, data: { consentDeadline: new Date(Date.now() - 1_000) } });
    const done = await inState(id, ['cancelled'], 'the unanswered job to be cancelled');
    expect(done.status).toBe('cancelled');
    expect((await timeline(id)).at(-1)).toMatchObject({ to_status: 'cancelled', data: { consent: 'expired' } });
    expect(uploadsOf(id)).toEqual([]);
  });

  it('refuses bad consent input with stable codes and changes nothing', async () => {
    const bad = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect((await json(res)).code).toBe(code);
    };
    await bad(await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'sometimes' }) }), 400, 'validation_failed');
    await bad(await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ timeout_seconds: 5 }) }), 400, 'validation_failed');
    await bad(await t.api('/api/cloud/data-consent/setting', { method: 'PUT', body: JSON.stringify({ mode: 'ASK' }) }), 400, 'validation_failed');
    expect((await json(await t.api('/api/cloud/data-consent/setting'))).mode).toBe('ask');
    await bad(await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify(replicateJob(dataset().dir, { consent_digest: 'not-hex' })) }), 400, 'validation_failed');

    const job = await submit(t, replicateJob(dataset().dir));
    const id = job.id as string;
    const request = (await inState(id, ['awaiting_consent'], 'the job to wait')).consent_request as Preview;
    await bad(await answer(id, { decision: 'confirm', digest: 'f'.repeat(64) }), 409, 'consent_digest_mismatch');
    await bad(await answer(id, { decision: 'confirm' }), 400, 'validation_failed');
    await bad(await answer(id, { decision: 'maybe', digest: request.digest }), 400, 'validation_failed');
    // Another organisation sees no such job, and cannot answer for it; its member cannot change its own setting either.
    const other = await makeOrg(prisma, 'Consent other org');
    await bad(await answer(id, { decision: 'confirm', digest: request.digest }, other.token), 404, 'not_found');
    await bad(await answer(id, { decision: 'decline' }, other.token), 404, 'not_found');
    const member = await prisma.apiKey.findFirstOrThrow({ where: { orgId: other.orgId } });
    await prisma.apiKey.update({ where: { id: member.id }, data: { role: 'member' } });
    await bad(await t.api('/api/cloud/data-consent/setting', { method: 'PUT', key: other.token, body: JSON.stringify({ mode: 'allow' }) }), 403, 'forbidden');
    expect((await getJob(t, id)).status).toBe('awaiting_consent');
    // Answering twice: the second finds nothing to answer.
    expect((await answer(id, { decision: 'decline' })).status).toBe(200);
    await bad(await answer(id, { decision: 'confirm', digest: request.digest }), 409, 'consent_not_awaited');
  });
});

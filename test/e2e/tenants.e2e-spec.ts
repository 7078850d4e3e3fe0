import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPrismaClient, type PrismaClient } from '@ct/persistence';
import { deriveSecret, jobAccessKeyId } from '@ct/storage';
import { eventually, makeOrg, startTestStack, type TestStack } from '@ct/testing';
import { getJob, json, makeDataset, s3For, submit, trainerPids } from './helpers';

jest.setTimeout(180_000);

/** One organisation's files, workers and credentials stay its own; the trainer sees only what it must. */
describe('tenants and inputs', () => {
  let t: TestStack;
  let prisma: PrismaClient;
  let teamB: { orgId: string; token: string };
  let rootB: string;
  beforeAll(async () => {
    rootB = mkdtempSync(join(tmpdir(), 'ct-team-b-'));
    t = await startTestStack({ ORG_DATASET_ROOTS: JSON.stringify({ 'team-b': [rootB] }), WORKER_HEARTBEAT_INTERVAL_MS: '1000' });
    prisma = createPrismaClient(t.databaseUrl, 2);
    teamB = await makeOrg(prisma, 'Team B', 'team-b');
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await t?.stop();
    rmSync(rootB, { recursive: true, force: true });
  });

  const post = (body: unknown, key?: string) => t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify(body), key });
  const problem = async (res: Response) => ({ status: res.status, ...(await json<{ code: string; detail: string }>(res)) });

  it("an organisation reads only its own dataset roots, in either direction", async () => {
    const mine = makeDataset(t.datasetRoot, 'default-only', join(t.datasetRoot, '..', 'outside-t1'));
    const theirs = makeDataset(rootB, 'b-only', join(rootB, '..', 'outside-t2'));
    const local = (dir: string) => ({ provider: 'worker', config: {}, dataloader_config: [{ id: 'd', type: 'local', instance_data_dir: dir }] });
    expect(await problem(await post(local(mine.dir), teamB.token))).toMatchObject({ status: 422, code: 'dataset_path_outside_roots' });
    expect(await problem(await post(local(theirs.dir)))).toMatchObject({ status: 422, code: 'dataset_path_outside_roots' });
    // Each one's own: accepted.
    expect((await post(local(theirs.dir), teamB.token)).status).toBe(202);
    expect((await post(local(mine.dir))).status).toBe(202);
  });

  it('every absolute path of a dataloader entry, whatever its type, is refused unless it is inside the roots', async () => {
    for (const entry of [
      { id: 'cap', type: 'Local', instance_data_dir: '/root' },
      { id: 'aws', type: 'aws', aws_bucket_name: 'b', cache_dir_vae: join(t.stateDir, 'cloud') },
      { id: 'csv', type: 'csv', csv_file: '/etc/passwd' },
      { id: 'home', type: 'local', instance_data_dir: join(t.datasetRoot, 'x'), cache_dir_vae: '~/.cache' },
      { id: 'up', type: 'aws', cache_dir: '../../../state' },
    ]) {
      const res = await post({ provider: 'worker', config: {}, dataloader_config: [entry] });
      const p = await problem(res);
      expect({ id: entry.id, status: p.status }).toEqual({ id: entry.id, status: 422 });
      expect(['dataset_path_invalid', 'dataset_path_missing']).toContain(p.code);
    }
    // Relative cache paths stay inside the job's workspace, and URLs are not paths: accepted.
    const ok = await post({ provider: 'worker', config: {}, dataloader_config: [{ id: 'rel', type: 'aws', aws_bucket_name: 'b', cache_dir_vae: 'cache/vae', aws_endpoint_url: 'https://s3.example.com' }] });
    expect(ok.status).toBe(202);
  });

  it('the trainer gets a clean environment: the contract variables and an allow-list, no database or secrets', async () => {
    await t.startWorker('env-check', ['env-pool']);
    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['env-pool'] }, config: { max_train_steps: 100_000, step_delay_ms: 50 }, dataloader_config: [] });
    const id = job.id as string;
    const [pid] = await eventually(async () => {
      const pids = trainerPids(id);
      return pids.length ? pids : null;
    }, 30_000, 'the trainer to start');
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean).map((kv) => kv.split('=')[0]);
    expect(env).toEqual(expect.arrayContaining(['CT_JOB_ID', 'CT_CONFIG_PATH', 'CT_OUTPUT_DIR', 'PATH']));
    for (const secret of ['DATABASE_URL', 'REDIS_URL', 'CT_WORKER_TOKEN', 'STORAGE_MASTER_KEY', 'TEST_REDIS_URL']) expect(env).not.toContain(secret);
    expect((await t.api(`/api/cloud/jobs/${id}/cancel`, { method: 'POST' })).status).toBe(200);
  });

  it("rotating a worker's token ends the S3 credentials of the job it holds, and the job goes back to the queue", async () => {
    await t.startWorker('rotatee', ['rotate-pool']);
    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['rotate-pool'] }, config: { max_train_steps: 100_000, step_delay_ms: 50 }, dataloader_config: [] });
    const id = job.id as string;
    const running = await eventually(async () => {
      const j = await getJob(t, id);
      return j.status === 'running' ? j : null;
    }, 30_000, 'the job to run');
    const row = await prisma.job.findUniqueOrThrow({ where: { id } });
    const masterKey = readFileSync(join(t.stateDir, 'cloud', 'storage-master.key'), 'utf8').trim();
    const accessKeyId = jobAccessKeyId(id, row.leaseFence);
    const s3 = new S3Client({
      endpoint: `${t.gatewayUrl}/api/cloud/storage`, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey: deriveSecret(masterKey, accessKeyId) },
    });
    const probe = () => s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: `${running.output.prefix}none` })).then(() => 'ok', (e: { name?: string }) => e.name);
    expect(await probe()).toBe('NoSuchKey'); // the credentials work: the key simply does not exist
    const workers = await json<{ workers: Array<{ id: string; name: string }> }>(await t.api('/api/admin/workers'));
    const worker = workers.workers.find((w) => w.name === 'rotatee')!;
    const rotated = await json<{ requeued_jobs: string[] }>(await t.api(`/api/admin/workers/${worker.id}/rotate-token`, { method: 'POST' }));
    expect(rotated.requeued_jobs).toEqual([id]);
    expect(await probe()).toBe('InvalidAccessKeyId');
    expect((await getJob(t, id)).status).toBe('queued');
    await t.api(`/api/cloud/jobs/${id}/cancel`, { method: 'POST' });
  });

  it("deleting a job removes its package and outputs from storage (unless asked to keep the outputs)", async () => {
    await t.startWorker('deleter', ['delete-pool']);
    const ds = makeDataset(t.datasetRoot, 'to-delete', join(t.datasetRoot, '..', 'outside-t3'));
    const run = async () => {
      const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['delete-pool'] }, config: { max_train_steps: 5 }, dataloader_config: [{ id: 'd', type: 'local', instance_data_dir: ds.dir }] });
      return eventually(async () => {
        const j = await getJob(t, job.id as string);
        return j.status === 'completed' ? j : null;
      }, 60_000, 'the job to complete');
    };
    const s3 = await s3For(t);
    const exists = (bucket: string, key: string) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false);
    const done = await run();
    const output = (done.artifacts as Array<{ key: string }>)[0]!.key;
    expect(await exists('outputs', output)).toBe(true);
    expect(await exists(done.package.bucket, done.package.key)).toBe(true);
    expect((await t.api(`/api/cloud/jobs/${done.id}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(async () => !(await exists('outputs', output)) && !(await exists(done.package.bucket, done.package.key)), 30_000, 'the objects to be purged');
    expect(await prisma.artifact.count({ where: { key: { startsWith: `${done.output.prefix}` } } })).toBe(0);

    const kept = await run();
    const keptOutput = (kept.artifacts as Array<{ key: string }>)[0]!.key;
    expect((await t.api(`/api/cloud/jobs/${kept.id}?keep_outputs=true`, { method: 'DELETE' })).status).toBe(204);
    await eventually(async () => !(await exists(kept.package.bucket, kept.package.key)), 30_000, 'the package to be purged');
    expect(await exists('outputs', keptOutput)).toBe(true);
  });

  it('webhooks for no job of this deployment are answered and never stored; a queued job says why it waits', async () => {
    const before = await prisma.webhookDelivery.count();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${t.gatewayUrl}/api/webhooks/replicate?job=00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, { method: 'POST', body: 'x'.repeat(1000) });
      expect(res.status).toBe(404);
    }
    expect((await fetch(`${t.gatewayUrl}/api/webhooks/nobody`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(await prisma.webhookDelivery.count()).toBe(before);

    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['a-label-nobody-has'] }, config: {}, dataloader_config: [] });
    const waiting = await eventually(async () => {
      const j = await getJob(t, job.id as string);
      return j.status === 'queued' ? j : null;
    }, 30_000, 'the job to be queued');
    expect(waiting.waiting_reason).toContain('no online worker has the labels ["a-label-nobody-has"]');
  });
});

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { startTestStack, type TestStack } from '@ct/testing';
import { json, submit } from './helpers';

jest.setTimeout(120_000);

function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string; type: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('bad input gets a clear 4xx with a stable code, and nothing is half-created', () => {
  let t: TestStack;
  let jobCount: () => Promise<number>;
  beforeAll(async () => {
    t = await startTestStack();
    jobCount = async () => {
      let n = 0;
      let cursor = '';
      for (;;) {
        const page = await json<{ jobs: unknown[]; next_cursor: string | null }>(await t.api(`/api/cloud/jobs?limit=200${cursor}`));
        n += page.jobs.length;
        if (!page.next_cursor) return n;
        cursor = `&cursor=${page.next_cursor}`;
      }
    };
  });
  afterAll(async () => t?.stop());

  const expectProblem = async (res: Response, status: number, code: string) => {
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = await json<{ status: number; code: string; detail: string }>(res);
    expect({ status: res.status, code: body.code }).toEqual({ status, code });
    expect(body.detail).toBeTruthy();
    expect(JSON.stringify(body)).not.toMatch(/at .*\.js:\d+/); // no stack traces
    return body;
  };

  it('refuses bad submissions without creating a job', async () => {
    const before = await jobCount();
    const post = (body: string, headers: Record<string, string> = {}) => t.api('/api/cloud/jobs', { method: 'POST', body, headers });
    await expectProblem(await post('{"config": {'), 400, 'malformed_json');
    await expectProblem(await post(JSON.stringify({ config: {}, surprise: 1 })), 400, 'validation_failed');
    await expectProblem(await post(JSON.stringify({ config: {}, provider: 'nope' })), 400, 'provider_unknown');
    await expectProblem(await post(JSON.stringify({ config: {}, provider: 'Not A Name!' })), 400, 'validation_failed');
    await expectProblem(await post(JSON.stringify({ config: {}, dataloader_config: [{ type: 'local' }] })), 400, 'validation_failed');
    const missing = join(t.datasetRoot, 'does-not-exist');
    const m = await expectProblem(await post(JSON.stringify({ config: {}, dataloader_config: [{ type: 'local', instance_data_dir: missing }] })), 422, 'dataset_path_missing');
    expect(m.detail).toContain(missing);
    const outside = join(t.datasetRoot, '..', 'elsewhere');
    mkdirSync(outside, { recursive: true });
    const o = await expectProblem(await post(JSON.stringify({ config: {}, dataloader_config: [{ type: 'local', instance_data_dir: outside }] })), 422, 'dataset_path_outside_roots');
    expect(o.detail).toContain('elsewhere');
    await expectProblem(await post(JSON.stringify({ config: { blob: 'x'.repeat(2 * 1024 * 1024) } })), 413, 'payload_too_large');
    await expectProblem(await t.api('/api/cloud/jobs', { method: 'POST', body: '{"config":{}}', key: 'ctk_nope_nope' }), 401, 'unauthenticated');
    await expectProblem(await t.api('/api/cloud/jobs?limit=100000'), 400, 'validation_failed');
    await expectProblem(await t.api('/api/cloud/jobs/00000000-0000-0000-0000-000000000000'), 404, 'not_found');
    // Inputs that used to reach Postgres or the stack and come back as 500s.
    const deep = `{"config":{"deep":${'{"d":'.repeat(5_000)}"leaf"${'}'.repeat(5_000)}}}`;
    await expectProblem(await post(deep), 400, 'validation_failed');
    await expectProblem(await post(JSON.stringify({ config: { caption: 'a\u0000b' } })), 400, 'validation_failed');
    await expectProblem(await post(JSON.stringify({ config: {} }), { 'idempotency-key': 'k'.repeat(10_000) }), 400, 'validation_failed');
    const some = await submit(t, { provider: 'worker', worker_requirements: { labels: ['nobody-here'] }, config: {} });
    await expectProblem(await t.api(`/api/cloud/jobs/${some.id}/logs?after=${'9'.repeat(40)}`), 400, 'validation_failed');
    await expectProblem(await t.api(`/api/cloud/jobs/${some.id}/logs?follow=true`, { headers: { 'last-event-id': 'not-a-number' } }), 400, 'validation_failed');
    await t.api(`/api/cloud/jobs/${some.id}/cancel`, { method: 'POST' });
    expect(await jobCount()).toBe(before + 1);
    expect((await fetch(`${t.gatewayUrl}/health/ready`)).status).toBe(200);
  });

  it('returns the first job for a repeated Idempotency-Key', async () => {
    const body = JSON.stringify({ config: { max_train_steps: 1 }, provider: 'worker', worker_requirements: { labels: ['nobody'] } });
    const a = await t.api('/api/cloud/jobs', { method: 'POST', body, headers: { 'idempotency-key': 'same-1' } });
    const b = await t.api('/api/cloud/jobs', { method: 'POST', body, headers: { 'idempotency-key': 'same-1' } });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect((await json(b)).id).toBe((await json(a)).id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
  });

  it('refuses unsafe keys and bad or expired signatures on the S3 endpoint', async () => {
    for (const path of ['/api/cloud/storage/outputs/../secrets', '/api/cloud/storage/outputs/a/%2e%2e/b', '/api/cloud/storage/outputs//etc/passwd']) {
      const res = await raw(t.gatewayUrl, 'GET', path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body).toContain('<Code>InvalidArgument</Code>');
    }
    const creds = await json<{ access_key_id: string; secret_access_key: string }>(await t.api('/api/auth/s3-credentials'));
    const host = new URL(t.gatewayUrl).host;
    const sign = async (secret: string, date: Date) => {
      const signer = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, credentials: { accessKeyId: creds.access_key_id, secretAccessKey: secret } });
      const req = new HttpRequest({ method: 'GET', protocol: 'http:', hostname: host.split(':')[0], port: Number(host.split(':')[1]), path: '/api/cloud/storage/outputs', query: { 'list-type': '2' }, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
      const signed = await signer.sign(req, { signingDate: date });
      return raw(t.gatewayUrl, 'GET', '/api/cloud/storage/outputs?list-type=2', signed.headers as Record<string, string>);
    };
    expect((await sign(creds.secret_access_key, new Date())).status).toBe(200);
    const bad = await sign('not-the-secret-at-all-0000000000000000000', new Date());
    expect(bad.status).toBe(403);
    expect(bad.body).toContain('SignatureDoesNotMatch');
    const expired = await sign(creds.secret_access_key, new Date(Date.now() - 20 * 60_000));
    expect(expired.status).toBe(403);
    expect(expired.body).toContain('RequestTimeTooSkewed');
  });

  it('fences out a worker reporting on another worker’s job and a stale lease', async () => {
    const mk = async (name: string) => json<{ worker: { id: string }; token: string }>(await t.api('/api/admin/workers', { method: 'POST', body: JSON.stringify({ name, labels: ['manual'] }) }));
    const a = await mk('manual-a');
    const b = await mk('manual-b');
    const asWorker = (token: string, path: string, body: unknown) => fetch(`${t.gatewayUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await asWorker(a.token, '/api/workers/register', { labels: ['manual'] });
    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['manual'] }, config: {} });
    const claim = await asWorker(a.token, '/api/workers/claim?waitMs=15000', {});
    expect(claim.status).toBe(200);
    const claimed = await json<{ jobId: string; fence: number; storage: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; outputPrefix: string } }>(claim);
    expect(claimed.jobId).toBe(job.id);
    // A body that does not match its Content-MD5, sent with the job's own credentials: 400 BadDigest, nothing
    // stored, and the storage service is still up for everyone (it used to crash on this).
    const s3 = new S3Client({
      endpoint: claimed.storage.endpoint, region: claimed.storage.region, forcePathStyle: true,
      credentials: { accessKeyId: claimed.storage.accessKeyId, secretAccessKey: claimed.storage.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
    });
    const key = `${claimed.storage.outputPrefix}lying.bin`;
    const lie = await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: key, Body: Buffer.from('the real bytes'), ContentMD5: createHash('md5').update('other bytes').digest('base64') })).catch((e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e);
    expect(lie).toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    expect(t.procs.storage!.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${t.instances.storage![0]!.port}/health`)).status).toBe(200);
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: key, Body: Buffer.from('the real bytes') }));
    await expectProblem(await asWorker(b.token, `/api/workers/jobs/${claimed.jobId}/report`, { fence: claimed.fence, kind: 'completed', exitCode: 0 }), 409, 'stale_lease');
    await expectProblem(await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/report`, { fence: claimed.fence - 1, kind: 'completed', exitCode: 0 }), 409, 'stale_lease');
    await expectProblem(await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/logs`, { fence: claimed.fence + 1, lines: [{ stream: 'stdout', line: 'x' }] }), 409, 'stale_lease');
    await expectProblem(await asWorker('ctw_bad_token', '/api/workers/heartbeat', {}), 401, 'unauthenticated');
    await expectProblem(await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/report`, { fence: claimed.fence, kind: 'exploded' }), 400, 'validation_failed');
    // A numbered log batch re-sent after a lost answer is stored once.
    const batch = { fence: claimed.fence, seq: 1, lines: [{ stream: 'stdout', line: 'only once' }] };
    expect(await json(await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/logs`, batch))).toMatchObject({ accepted: 1 });
    expect(await json(await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/logs`, batch))).toMatchObject({ accepted: 0, duplicate: true });
    const stored = await json<{ logs: Array<{ line: string }> }>(await t.api(`/api/cloud/jobs/${claimed.jobId}/logs`));
    expect(stored.logs.filter((l) => l.line === 'only once')).toHaveLength(1);
    // The rightful holder's report still counts.
    expect((await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/report`, { fence: claimed.fence, kind: 'completed', exitCode: 0 })).status).toBe(202);
    const deadline = Date.now() + 15_000;
    let status = '';
    while (Date.now() < deadline && status !== 'completed') {
      status = (await json<{ status: string }>(await t.api(`/api/cloud/jobs/${claimed.jobId}`))).status;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe('completed');
    // The same terminal report, re-sent because its answer was lost, is taken (not answered "stale lease").
    const again = await asWorker(a.token, `/api/workers/jobs/${claimed.jobId}/report`, { fence: claimed.fence, kind: 'completed', exitCode: 0 });
    expect(again.status).toBe(202);
    expect(await json(again)).toMatchObject({ accepted: true, duplicate: true });
    await expectProblem(await t.api(`/api/cloud/jobs/${claimed.jobId}/cancel`, { method: 'POST' }), 409, 'job_not_active');
  });
});

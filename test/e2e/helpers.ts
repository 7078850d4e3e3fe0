import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { TestStack } from '@ct/testing';

/** A small dataset with everything the packager must leave out. */
export function makeDataset(root: string, name: string, outside: string): { dir: string; allowed: string[] } {
  const dir = join(root, name);
  for (const d of ['.git', 'nested/secrets', 'captions']) mkdirSync(join(dir, d), { recursive: true });
  const allowed: string[] = [];
  for (let i = 0; i < 4; i++) {
    writeFileSync(join(dir, `img${i}.jpg`), randomBytes(8192));
    writeFileSync(join(dir, 'captions', `img${i}.txt`), `a photo of object ${i}\n`);
    allowed.push(`img${i}.jpg`, `captions/img${i}.txt`);
  }
  writeFileSync(join(dir, '.env'), 'HF_TOKEN=hf_should_never_leave\n');
  writeFileSync(join(dir, '.git', 'config'), '[core]\n');
  writeFileSync(join(dir, 'nested', 'secrets', 'id_rsa.pem'), '-----BEGIN PRIVATE KEY-----\n');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'private.txt'), 'outside the dataset\n');
  symlinkSync(join(outside, 'private.txt'), join(dir, 'linked.txt'));
  symlinkSync(outside, join(dir, 'linked-dir'));
  return { dir, allowed: allowed.sort() };
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function submit(t: TestStack, body: Record<string, unknown>, key?: string): Promise<Record<string, unknown>> {
  const res = await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify(body), key });
  const payload = await json(res);
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(payload)}`);
  return payload;
}

export async function getJob(t: TestStack, id: string, key?: string): Promise<Record<string, any>> {
  return json(await t.api(`/api/cloud/jobs/${id}`, { key }));
}

export async function s3For(t: TestStack, key?: string): Promise<S3Client> {
  const c = await json<{ endpoint: string; region: string; access_key_id: string; secret_access_key: string }>(await t.api('/api/auth/s3-credentials', { key }));
  return new S3Client({
    endpoint: c.endpoint, region: c.region, forcePathStyle: true,
    credentials: { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Processes whose environment names this job: the trainer the worker agent started for it. */
export function trainerPids(jobId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`CT_JOB_ID=${jobId}`)) pids.push(Number(entry));
    } catch {
      /* gone or not ours */
    }
  }
  return pids;
}

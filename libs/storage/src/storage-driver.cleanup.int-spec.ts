import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { DomainError } from '@ct/job-domain';
import { FIXTURES, type DriverFixture } from '../test/s3-harness';
import { deleteJobObjects, packageKey } from './driver-factory';
import { FsStorageDriver } from './fs-storage.driver';
import { MinioStorageDriver } from './minio-storage.driver';
import { MultipartUploads } from './multipart-uploads';
import type { StorageDriver } from './storage-driver';

const HOUR = 3600_000;
const put = (d: StorageDriver, bucket: string, key: string, body = key): Promise<unknown> =>
  d.putObject(bucket, key, Readable.from([Buffer.from(body)]), { contentLength: Buffer.byteLength(body) });

async function keysUnder(d: StorageDriver, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await d.listObjectsV2(bucket, { prefix, maxKeys: 1000, continuationToken: token });
    keys.push(...page.contents.map((o) => o.key));
    token = page.isTruncated ? page.nextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

async function inBatches(n: number, each: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => each(i + j)));
}

describe.each(FIXTURES)('deletePrefix: %s', (name, make) => {
  let fx: DriverFixture;
  let d: StorageDriver;
  beforeAll(async () => {
    fx = await make();
    d = fx.driver;
  });
  afterAll(() => fx.close());

  it('removes every object under the prefix, page by page, and nothing beside it', async () => {
    await inBatches(25, (i) => put(d, 'outputs', `del/j1/${i % 3 === 0 ? `sub/${i % 7}/` : ''}f${i}.bin`));
    const siblings = ['del/j10/keep.bin', 'del/j1.zip', 'del/j2/keep.bin'];
    for (const k of siblings) await put(d, 'outputs', k);

    // Pages of 10 keys: three listing pages, each removed before the next is read. (s3rver deletes a page's keys
    // in parallel and races itself pruning their emptied folders; minio-js retries its 500 and a console warning shows.)
    expect(await d.deletePrefix('outputs', 'del/j1/', { pageKeys: 10 })).toBe(25);
    expect(await keysUnder(d, 'outputs', 'del/j1/')).toEqual([]);
    expect(await keysUnder(d, 'outputs', 'del/')).toEqual([...siblings].sort());
    expect(await d.deletePrefix('outputs', 'del/j1/')).toBe(0);
    if (d instanceof FsStorageDriver) {
      // Folders and sidecars of the removed keys are gone too.
      expect(await readdir(join(d.root, 'outputs', 'del'))).toEqual(expect.not.arrayContaining(['j1']));
      expect(await readdir(join(d.root, '.ct-meta', 'outputs', 'del'))).toEqual(expect.not.arrayContaining(['j1']));
    }
  }, 60_000);

  if (name === 'fs') {
    // s3rver takes a minute to store 1,000 objects, so the default page of 1,000 keys is crossed on the fs driver only.
    it('crosses the default page of 1,000 keys', async () => {
      await inBatches(1001, (i) => put(d, 'outputs', `many/j1/${i % 3 === 0 ? `sub/${i % 7}/` : ''}f${i}.bin`));
      expect(await d.deletePrefix('outputs', 'many/j1/')).toBe(1001);
      expect(await keysUnder(d, 'outputs', 'many/')).toEqual([]);
    }, 60_000);
  }

  it('aborts the endpoint’s open multipart uploads of keys under the prefix, and only those', async () => {
    const multipart = new MultipartUploads(d);
    const inside = await multipart.create('outputs', 'mp/j1/model.bin', { orgId: 'org1' });
    await multipart.uploadPart(inside, 1, Readable.from([Buffer.from('part')]), 4);
    const outside = await multipart.create('outputs', 'mp/j10/model.bin', { orgId: 'org1' });
    await put(d, 'outputs', 'mp/j1/done.bin');

    expect(await d.deletePrefix('outputs', 'mp/j1/')).toBe(1);
    expect((await multipart.list('outputs', 'org1', 'mp/')).map((u) => u.uploadId)).toEqual([outside.uploadId]);
    await expect(multipart.get(inside.uploadId, 'outputs', 'mp/j1/model.bin', 'org1')).rejects.toMatchObject({ code: 'NoSuchUpload' });
  });

  it('refuses an empty prefix rather than empty a bucket', async () => {
    await put(d, 'outputs', 'stays.bin');
    await expect(d.deletePrefix('outputs', '')).rejects.toBeInstanceOf(DomainError);
    expect(await keysUnder(d, 'outputs', 'stays')).toEqual(['stays.bin']);
  });

  it('deleteJobObjects removes a job’s package and outputs, not another job’s', async () => {
    for (const job of ['jobA', 'jobB']) {
      await put(d, 'datasets', packageKey('orgX', job));
      await put(d, 'outputs', `orgX/${job}/model.safetensors`);
      await put(d, 'outputs', `orgX/${job}/logs/train.log`);
    }
    expect(await deleteJobObjects(d, 'orgX', 'jobA')).toBe(3);
    expect(await keysUnder(d, 'datasets', 'orgX/')).toEqual(['orgX/jobB.zip']);
    expect(await keysUnder(d, 'outputs', 'orgX/')).toEqual(['orgX/jobB/logs/train.log', 'orgX/jobB/model.safetensors']);
  });
});

describe('pruneTemporary: fs driver', () => {
  let fx: DriverFixture;
  let d: FsStorageDriver;
  let tmp: string;
  beforeAll(async () => {
    fx = await FIXTURES[0]![1]();
    d = fx.driver as FsStorageDriver;
    tmp = join(d.root, '.ct-tmp');
  });
  afterAll(() => fx.close());

  const age = (path: string, ms: number): Promise<void> => utimes(path, new Date(Date.now() - ms), new Date(Date.now() - ms));

  it('removes temp files older than the threshold, keeps newer ones and writes in progress however old', async () => {
    await put(d, 'outputs', 'warm-up.bin'); // creates .ct-tmp
    const stale = [join(tmp, 'dead-upload'), join(tmp, 'dead-sidecar.json')];
    for (const f of stale) {
      await writeFile(f, 'left by a process that died mid-write');
      await age(f, 2 * HOUR);
    }
    const fresh = join(tmp, 'recent-upload');
    await writeFile(fresh, 'x');

    // An upload whose client has paused for longer than the threshold: its temp file looks old, but is ours.
    const body = new PassThrough();
    const writing = d.putObject('outputs', 'slow/upload.bin', body, { contentLength: 6 });
    body.write('abc');
    let live: string | undefined;
    const known = new Set([...stale, fresh].map((f) => f.slice(tmp.length + 1)));
    for (let i = 0; i < 200 && !live; i++) {
      live = (await readdir(tmp)).find((n) => !known.has(n));
      if (!live) await new Promise((r) => setTimeout(r, 10));
    }
    expect(live).toBeDefined();
    await age(join(tmp, live!), 2 * HOUR);

    expect(await d.pruneTemporary(HOUR)).toBe(2);
    expect((await readdir(tmp)).sort()).toEqual([live!, 'recent-upload'].sort());
    body.end('def');
    await writing;
    expect(await text((await d.getObject('outputs', 'slow/upload.bin')).body)).toBe('abcdef');
    expect(await readdir(tmp)).toEqual(['recent-upload']);
    expect((await stat(fresh)).isFile()).toBe(true);
  });

  it('answers 0 when nothing was ever written', async () => {
    const empty = new FsStorageDriver(join(d.root, 'never-used'));
    expect(await empty.pruneTemporary(0)).toBe(0);
  });
});

describe('pruneTemporary: minio driver', () => {
  it('has nothing to remove (MinIO expires stale multipart uploads itself) and touches no object', async () => {
    const fx = await FIXTURES[1]![1]();
    try {
      expect(fx.driver).toBeInstanceOf(MinioStorageDriver);
      await put(fx.driver, 'outputs', 'kept.bin');
      expect(await fx.driver.pruneTemporary(0)).toBe(0);
      expect(await keysUnder(fx.driver, 'outputs', '')).toEqual(['kept.bin']);
    } finally {
      await fx.close();
    }
  });
});

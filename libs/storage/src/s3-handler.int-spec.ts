import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { credentialsFor, errorOf, FIXTURES, startHandlerServer, type DriverFixture, type HandlerServer } from '../test/s3-harness';

const sha256File = async (path: string): Promise<string> => {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
};
const sha256Stream = async (body: AsyncIterable<Uint8Array>): Promise<string> => {
  const h = createHash('sha256');
  for await (const chunk of body) h.update(chunk);
  return h.digest('hex');
};

/** Sends a raw signed request, bypassing SDK path normalisation. */
async function rawSigned(srv: HandlerServer, method: string, path: string): Promise<{ status: number; body: string }> {
  const creds = credentialsFor('job1');
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const host = `127.0.0.1:${srv.port}`;
  const [rawPath = '', rawQuery = ''] = path.split('?');
  const query = Object.fromEntries(rawQuery.split('&').filter(Boolean).map((p) => [p.split('=')[0] ?? '', p.split('=')[1] ?? '']));
  const signed = await signer.sign(new HttpRequest({ method, hostname: '127.0.0.1', port: srv.port, path: rawPath, query, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, method, path, headers: signed.headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(FIXTURES)('S3 handler with the AWS SDK: %s driver', (_name, make) => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  let s3: S3Client;
  let dir: string;
  let bigFile: string;

  beforeAll(async () => {
    fx = await make();
    srv = await startHandlerServer(fx.driver);
    s3 = srv.client('job1');
    dir = await mkdtemp(join(tmpdir(), 'ct-s3-int-'));
    bigFile = join(dir, 'big.bin');
    const chunks = Array.from({ length: 20 }, () => randomBytes(1024 * 1024));
    await pipeline(Readable.from(chunks), createWriteStream(bigFile));
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('puts a 20 MiB file from a stream, heads it and gets it back intact', async () => {
    const size = (await stat(bigFile)).size;
    const put = await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/big.bin', Body: createReadStream(bigFile), ContentLength: size }));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}(-\d+)?"$/);
    const written = srv.written.find((w) => w.key === 'org1/job1/big.bin');
    expect(written).toMatchObject({ bucket: 'outputs', size, sha256: await sha256File(bigFile), principal: { orgId: 'org1', jobId: 'job1' } });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/big.bin' }));
    expect(head.ContentLength).toBe(size);
    expect(head.ETag).toBe(put.ETag);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/big.bin' }));
    expect(await sha256Stream(got.Body as AsyncIterable<Uint8Array>)).toBe(await sha256File(bigFile));
  }, 60_000);

  it('serves a range', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/range.txt', Body: 'abcdefghij' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/range.txt', Range: 'bytes=3-6' }));
    expect(got.ContentRange).toBe('bytes 3-6/10');
    expect(await got.Body?.transformToString()).toBe('defg');
  });

  it('handles keys with spaces and unicode', async () => {
    const key = 'org1/job1/dir with space/naïve 日本語 ✓.txt';
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: key, Body: 'unicode', ContentType: 'text/plain' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: key }));
    expect(await got.Body?.transformToString()).toBe('unicode');
    expect(got.ContentType).toBe('text/plain');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: 'org1/job1/dir with space/' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual([key]);
  });

  it('lists with prefix and pagination, and lists buckets', async () => {
    for (let i = 0; i < 5; i++) await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: `org1/job1/page/${i}.txt`, Body: `${i}` }));
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: 'org1/job1/page/', MaxKeys: 2, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((c) => c.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    expect(keys).toEqual([0, 1, 2, 3, 4].map((i) => `org1/job1/page/${i}.txt`));
    expect(pages).toBe(3);
    const delim = await s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: 'org1/job1/', Delimiter: '/' }));
    expect(delim.CommonPrefixes?.map((p) => p.Prefix)).toEqual(expect.arrayContaining(['org1/job1/page/', 'org1/job1/dir with space/']));
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name).sort()).toEqual(['datasets', 'outputs']);
  });

  it('hides other tenants: 403 on put, 404 on get, filtered root listing', async () => {
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/x.txt', Body: 'x' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    const other = srv.client('job2');
    await other.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/secret.txt', Body: 'secret' }));
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/secret.txt' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(await errorOf(s3.send(new HeadObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/secret.txt' })))).toMatchObject({ status: 404 });
    expect(await errorOf(s3.send(new DeleteObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/secret.txt' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: 'org2/' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    const root = await s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: '' }));
    expect((root.Contents ?? []).every((c) => c.Key?.startsWith('org1/job1/'))).toBe(true);
  });

  it('lists nothing for a prefix that climbs out of the granted folder', async () => {
    const other = srv.client('job2');
    await other.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org2/job2/climb.txt', Body: 'secret' }));
    for (const Prefix of ['org1/job1/../../', 'org1/job1/../../org2/', 'org1/job1/./', 'org1/job1//', 'org1/job1/../../../../../../../etc/']) {
      const list = await s3.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix }));
      expect([Prefix, list.Contents ?? [], list.CommonPrefixes ?? []]).toEqual([Prefix, [], []]);
    }
  });

  it('deletes an object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/gone.txt', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/gone.txt' }));
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/gone.txt' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
  });

  it('rejects a wrong secret with 403 SignatureDoesNotMatch', async () => {
    const bad = srv.client('job1', 'x'.repeat(40));
    expect(await errorOf(bad.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/range.txt' })))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
  });

  it('rejects ".." and absolute keys sent raw with 400', async () => {
    const dots = await rawSigned(srv, 'GET', '/api/cloud/storage/outputs/org1/job1/../job2/secret.txt');
    expect(dots.status).toBe(400);
    expect(dots.body).toContain('<Code>InvalidArgument</Code>');
    expect((await rawSigned(srv, 'PUT', '/api/cloud/storage/outputs/org1/job1/%2e%2e/x')).status).toBe(400);
    expect((await rawSigned(srv, 'GET', '/api/cloud/storage/outputs//etc/passwd')).status).toBe(400);
  });

  it('answers unsupported operations with 501 NotImplemented', async () => {
    const r = await rawSigned(srv, 'GET', '/api/cloud/storage/outputs/org1/job1/range.txt?acl');
    expect(r.status).toBe(501);
    expect(r.body).toContain('<Code>NotImplemented</Code>');
  });
});

describe('S3 handler limits and presigned URLs (fs driver)', () => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  beforeAll(async () => {
    fx = await FIXTURES[0]![1]();
    srv = await startHandlerServer(fx.driver, { maxObjectBytes: 1000 });
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  it('answers 413 EntityTooLarge over maxObjectBytes', async () => {
    const s3 = srv.client('job1');
    expect(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/big', Body: Buffer.alloc(2000) })))).toMatchObject({ name: 'EntityTooLarge', status: 413 });
  });

  it('serves a presigned GET and refuses it once expired', async () => {
    const s3 = srv.client('job1');
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/p q.txt', Body: 'presigned' }));
    const creds = credentialsFor('job1');
    const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const presign = async (signingDate: Date) => {
      const out = await signer.presign(
        new HttpRequest({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: srv.port, path: '/api/cloud/storage/outputs/org1/job1/p%20q.txt', headers: { host: `127.0.0.1:${srv.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
        // As @aws-sdk/s3-request-presigner does (not installed here): UNSIGNED-PAYLOAD, neither hoisted nor signed.
        { expiresIn: 60, signingDate, unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set(['x-amz-content-sha256']) },
      );
      const qs = Object.entries(out.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
      return `http://127.0.0.1:${srv.port}${out.path}?${qs}`;
    };
    const ok = await fetch(await presign(new Date()));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned');
    const expired = await fetch(await presign(new Date(Date.now() - 120_000)));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('<Code>AccessDenied</Code>');
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client as MinioClient } from 'minio';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand, ListPartsCommand,
  UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { credentialsFor, errorOf, FIXTURES, startHandlerServer, type DriverFixture, type HandlerServer } from '../test/s3-harness';
import { MULTIPART_STAGING_BUCKET, MultipartUploads } from './multipart-uploads';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Multipart uploads the way boto3's upload_file and the AWS SDK send large files (S3 part rules: 5 MiB minimum). */
describe.each(FIXTURES)('S3 multipart upload with the AWS SDK: %s driver', (_name, make) => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  let s3: S3Client;
  const Bucket = 'outputs';

  beforeAll(async () => {
    fx = await make();
    srv = await startHandlerServer(fx.driver);
    s3 = srv.client('job1');
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  const start = async (Key: string): Promise<string> => (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }))).UploadId ?? '';
  const part = async (Key: string, UploadId: string, PartNumber: number, Body: Buffer): Promise<string> =>
    (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }))).ETag ?? '';
  const staged = async (uploadId: string): Promise<number> =>
    (await fx.driver.bucketExists(MULTIPART_STAGING_BUCKET)) ? (await fx.driver.listObjectsV2(MULTIPART_STAGING_BUCKET, { prefix: `${uploadId}/`, maxKeys: 1000 })).contents.length : 0;

  it('assembles parts sent out of order and in parallel into the object, indexes its SHA-256, and clears the staging area', async () => {
    const Key = 'org1/job1/model.safetensors';
    const chunks = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 123)];
    const whole = Buffer.concat(chunks);
    const UploadId = await start(Key);
    expect(UploadId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const etag3 = await part(Key, UploadId, 3, chunks[2]!);
    const [etag1, etag2] = await Promise.all([part(Key, UploadId, 1, chunks[0]!), part(Key, UploadId, 2, chunks[1]!)]);
    expect(etag1).toBe(`"${createHash('md5').update(chunks[0]!).digest('hex')}"`);
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, MiB + 123]]);
    const done = await s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key, UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag1 }, { PartNumber: 2, ETag: etag2 }, { PartNumber: 3, ETag: etag3 }] },
    }));
    expect(done.ETag).toBeTruthy();
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    expect(body.length).toBe(whole.length);
    expect(sha256(body)).toBe(sha256(whole));
    expect(srv.written.find((w) => w.key === Key)).toMatchObject({ size: whole.length, sha256: sha256(whole) });
    expect(await staged(UploadId)).toBe(0);
  });

  it('refuses a wrong ETag, parts out of order and a small part before the last, and keeps the upload usable', async () => {
    const Key = 'org1/job1/rules.bin';
    const UploadId = await start(Key);
    const small = await part(Key, UploadId, 1, randomBytes(MiB));
    const big = await part(Key, UploadId, 2, randomBytes(5 * MiB));
    const complete = (Parts: Array<{ PartNumber: number; ETag: string }>) => errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })));
    expect(await complete([{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }])).toEqual({ name: 'InvalidPart', status: 400 });
    expect(await complete([{ PartNumber: 2, ETag: big }, { PartNumber: 1, ETag: small }])).toEqual({ name: 'InvalidPartOrder', status: 400 });
    expect(await complete([{ PartNumber: 1, ETag: small }, { PartNumber: 2, ETag: big }])).toEqual({ name: 'EntityTooSmall', status: 400 });
    // Only the big part: it is the last, so any size is fine.
    expect(await complete([{ PartNumber: 2, ETag: big }])).toEqual({ name: 'ok' });
  });

  it('aborts: the parts are deleted and the upload id is gone', async () => {
    const Key = 'org1/job1/aborted.bin';
    const UploadId = await start(Key);
    await part(Key, UploadId, 1, randomBytes(64 * 1024));
    expect(await staged(UploadId)).toBe(2); // the record and one part
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect(await staged(UploadId)).toBe(0);
    expect(await errorOf(part(Key, UploadId, 2, randomBytes(1024)))).toEqual({ name: 'NoSuchUpload', status: 404 });
  });

  it('keeps uploads to their tenant and key: another job is denied, a made-up or foreign upload id is unknown', async () => {
    const Key = 'org1/job1/private.bin';
    const UploadId = await start(Key);
    const other = srv.client('job2');
    expect(await errorOf(other.send(new CreateMultipartUploadCommand({ Bucket, Key })))).toMatchObject({ status: 403 });
    expect(await errorOf(other.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(10) })))).toMatchObject({ status: 403 });
    // job2's own key with job1's upload id: the id belongs to another key and tenant.
    expect(await errorOf(other.send(new UploadPartCommand({ Bucket, Key: 'org2/job2/x.bin', UploadId, PartNumber: 1, Body: Buffer.alloc(10) })))).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect(await errorOf(part('org1/job1/other-key.bin', UploadId, 1, Buffer.alloc(10)))).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect(await errorOf(part(Key, '../../etc/passwd', 1, Buffer.alloc(10)))).toEqual({ name: 'NoSuchUpload', status: 404 });
  });

  it('lists open uploads to their own tenant only', async () => {
    const Key = 'org1/job1/open.bin';
    const UploadId = await start(Key);
    const mine = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'org1/job1/open' }));
    expect(mine.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[Key, UploadId]]);
    const theirs = await srv.client('job2').send(new ListMultipartUploadsCommand({ Bucket }));
    expect(theirs.Uploads ?? []).toEqual([]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });

  it('prunes uploads abandoned for longer than the limit, and only those', async () => {
    const Key = 'org1/job1/abandoned.bin';
    const UploadId = await start(Key);
    await part(Key, UploadId, 1, randomBytes(1024));
    const week = 7 * 24 * 3600_000;
    expect(await new MultipartUploads(fx.driver).pruneStale(week)).toBe(0);
    expect(await staged(UploadId)).toBe(2);
    const eightDaysLater = new MultipartUploads(fx.driver, { now: () => new Date(Date.now() + 8 * 24 * 3600_000) });
    expect(await eightDaysLater.pruneStale(week)).toBeGreaterThanOrEqual(1);
    expect(await staged(UploadId)).toBe(0);
    expect(await errorOf(part(Key, UploadId, 2, randomBytes(10)))).toEqual({ name: 'NoSuchUpload', status: 404 });
  });
});

/**
 * The MinIO client (minio-js) uploads large streams as multipart, asking ListMultipartUploads first to resume
 * an earlier upload of the same key. It has no notion of a path prefix, so this endpoint is mounted at '/'.
 */
describe('S3 multipart upload with the MinIO client (fs driver, endpoint also mounted at the root)', () => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  beforeAll(async () => {
    fx = await FIXTURES[0]![1]();
    // As the storage service mounts it: under the gateway's path for path-taking clients, and at the root.
    srv = await startHandlerServer(fx.driver, { prefix: ['/api/cloud/storage', '/'] });
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  it('puts a 12 MiB stream in 5 MiB parts and reads it back intact', async () => {
    const creds = credentialsFor('job1');
    const minio = new MinioClient({ endPoint: '127.0.0.1', port: srv.port, useSSL: false, accessKey: creds.accessKeyId, secretKey: creds.secretAccessKey, region: 'us-east-1', pathStyle: true, partSize: 5 * 1024 * 1024 });
    const data = randomBytes(12 * 1024 * 1024 + 5);
    await minio.putObject('outputs', 'org1/job1/minio.bin', Readable.from([data.subarray(0, 7_000_000), data.subarray(7_000_000)]), data.length);
    const chunks: Buffer[] = [];
    for await (const c of await minio.getObject('outputs', 'org1/job1/minio.bin')) chunks.push(c as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    expect(srv.written.find((w) => w.key === 'org1/job1/minio.bin')?.sha256).toBe(sha256(data));
    // The same object through the path-prefixed mount, with the AWS SDK.
    const viaSdk = await srv.client('job1').send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/minio.bin' }));
    expect(sha256(Buffer.from(await viaSdk.Body!.transformToByteArray()))).toBe(sha256(data));
    // Nothing is left open afterwards.
    const open = await new Promise<unknown[]>((resolve, reject) => {
      const items: unknown[] = [];
      minio.listIncompleteUploads('outputs', 'org1/', true).on('data', (u) => items.push(u)).on('end', () => resolve(items)).on('error', reject);
    });
    expect(open).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import { CODE_FOR, honestUpload, LIES, lyingUpload, sendSigned, type Lie } from '../test/attacks';
import { FIXTURES, minioFixture, startHandlerServer, type DriverFixture, type HandlerServer } from '../test/s3-harness';
import { FsStorageDriver } from './fs-storage.driver';

const PREFIX = '/api/cloud/storage';
const s3Code = (xml: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

/** Files left in the fs driver's temp dir (none for other drivers). */
async function tempFiles(fx: DriverFixture): Promise<string[]> {
  if (!(fx.driver instanceof FsStorageDriver)) return [];
  return readdir(join(fx.driver.root, '.ct-tmp')).catch(() => []);
}

async function exists(fx: DriverFixture, bucket: string, key: string): Promise<boolean> {
  return fx.driver.headObject(bucket, key).then(() => true, () => false);
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Uploads whose bytes do not match what they declare, as an attacker holding any job's credentials would send
 * them. Each must be answered with S3's error, commit nothing, and leave the process serving (an unhandled
 * stream error used to end it; Jest fails a test on an uncaught exception, and s3-crash.int-spec.ts checks the
 * process itself).
 */
describe.each(FIXTURES)('uploads that lie about their body: %s driver', (_name, make) => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  let s3: S3Client;
  // A small body arrives with its headers, so a check fails before the driver starts reading; a larger one mid-read.
  const cases = LIES.flatMap((lie) => [
    { lie, size: 100 },
    { lie, size: 300 * 1024 + 7 },
  ]);

  beforeAll(async () => {
    fx = await make();
    srv = await startHandlerServer(fx.driver);
    s3 = srv.client('job1');
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  it.each(cases)('PutObject with a false $lie ($size bytes): 400, nothing stored, no temp file', async ({ lie, size }) => {
    const key = `org1/job1/lie-${lie}-${size}.bin`;
    const data = randomBytes(size);
    const res = await sendSigned(lyingUpload(lie, { port: srv.port, path: `${PREFIX}/outputs/${key}` }, data));
    expect({ status: res.status, code: s3Code(res.body) }).toEqual({ status: 400, code: CODE_FOR[lie] });
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(await exists(fx, 'outputs', key)).toBe(false);
    expect(srv.written.map((w) => w.key)).not.toContain(key);
    expect(await tempFiles(fx)).toEqual([]);
  });

  it.each(cases)('UploadPart with a false $lie ($size bytes): 400, no part stored, the upload still completes', async ({ lie, size }) => {
    const Key = `org1/job1/lie-part-${lie}-${size}.bin`;
    const data = randomBytes(size);
    const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'outputs', Key }));
    const part = { port: srv.port, path: `${PREFIX}/outputs/${Key}`, query: { partNumber: '1', uploadId: UploadId } };
    const res = await sendSigned(lyingUpload(lie, part, data));
    expect({ status: res.status, code: s3Code(res.body) }).toEqual({ status: 400, code: CODE_FOR[lie] });
    expect((await s3.send(new ListPartsCommand({ Bucket: 'outputs', Key, UploadId }))).Parts ?? []).toEqual([]);
    expect(await tempFiles(fx)).toEqual([]);

    const ok = await sendSigned(honestUpload(part, data));
    expect(ok.status).toBe(200);
    const [stored] = (await s3.send(new ListPartsCommand({ Bucket: 'outputs', Key, UploadId }))).Parts ?? [];
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'outputs', Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: stored?.ETag }] } }));
    const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key }))).Body!.transformToByteArray());
    expect(back.equals(data)).toBe(true);
  });

  it.each([
    ['PutObject', undefined],
    ['UploadPart', 'part'],
  ])('%s from a client that disconnects mid-body: nothing stored, no temp file', async (_op, kind) => {
    const Key = `org1/job1/gone-${kind ?? 'put'}.bin`;
    const query = kind ? { partNumber: '1', uploadId: (await s3.send(new CreateMultipartUploadCommand({ Bucket: 'outputs', Key }))).UploadId ?? '' } : undefined;
    const before = srv.logs.length;
    const big = randomBytes(4 * 1024 * 1024);
    await sendSigned({ ...honestUpload({ port: srv.port, path: `${PREFIX}/outputs/${Key}`, query }, big), disconnectAfter: 1024 * 1024 });
    await until('the handler to give the request up', () => srv.logs.slice(before).some((l) => l['code'] === 'IncompleteBody'));
    expect(await exists(fx, 'outputs', Key)).toBe(false);
    expect(srv.written.map((w) => w.key)).not.toContain(Key);
    await until('no temp file', async () => (await tempFiles(fx)).length === 0);
    if (query) expect((await s3.send(new ListPartsCommand({ Bucket: 'outputs', Key, UploadId: query.uploadId }))).Parts ?? []).toEqual([]);
    expect(srv.logs.slice(before).filter((l) => l.level === 'error')).toEqual([]);
  });
});

/** The MinIO driver sends objects larger than one part as a multipart upload of its own; a lie must abort it too. */
describe('uploads that lie about their body: minio driver, object larger than its part size', () => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  const data = randomBytes(5 * 1024 * 1024 + 300 * 1024);

  beforeAll(async () => {
    fx = await minioFixture(5 * 1024 * 1024);
    srv = await startHandlerServer(fx.driver);
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  it.each(LIES)('PutObject with a false %s: 400 and nothing stored', async (lie: Lie) => {
    const key = `org1/job1/big-lie-${lie}.bin`;
    const res = await sendSigned(lyingUpload(lie, { port: srv.port, path: `${PREFIX}/outputs/${key}` }, data));
    expect({ status: res.status, code: s3Code(res.body) }).toEqual({ status: 400, code: CODE_FOR[lie] });
    expect(await exists(fx, 'outputs', key)).toBe(false);
    expect(srv.written).toEqual([]);
  }, 20_000);

  it('stores the same upload told truthfully, in parts, intact', async () => {
    const key = 'org1/job1/big-honest.bin';
    const res = await sendSigned(honestUpload({ port: srv.port, path: `${PREFIX}/outputs/${key}` }, data));
    expect(res.status).toBe(200);
    const got = await fx.driver.getObject('outputs', key);
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(srv.written.map((w) => w.key)).toEqual([key]);
  }, 20_000);
});

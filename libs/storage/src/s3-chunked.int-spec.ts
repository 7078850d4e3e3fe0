import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { credentialsFor, FIXTURES, startHandlerServer, type DriverFixture, type HandlerServer } from '../test/s3-harness';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The AWS SDK with its default checksum behaviour (WHEN_SUPPORTED): streamed bodies go as aws-chunked with a
 * CRC32 trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), as boto3 ≥ 1.36 sends them over HTTPS.
 */
describe('S3 handler with aws-chunked bodies (SDK default checksums)', () => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  let s3: S3Client;
  const seen: string[] = [];

  beforeAll(async () => {
    fx = await FIXTURES[0]![1]();
    srv = await startHandlerServer(fx.driver);
    const creds = credentialsFor('job1');
    s3 = new S3Client({ endpoint: srv.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    s3.middlewareStack.add((next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      seen.push(headers['x-amz-content-sha256'] ?? '');
      return next(args);
    }, { step: 'finalizeRequest', name: 'recordPayloadMode' });
  });
  afterAll(async () => {
    s3.destroy();
    await srv.close();
    await fx.close();
  });

  it('stores a streamed PutObject and a streamed multipart upload intact', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/chunked.bin', Body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]), ContentLength: data.length }));
    expect(seen).toContain('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/chunked.bin' }))).Body!.transformToByteArray());
    expect(sha256(got)).toBe(sha256(data));
    expect(srv.written.find((w) => w.key === 'org1/job1/chunked.bin')?.sha256).toBe(sha256(data));

    const big = randomBytes(6 * 1024 * 1024);
    const Key = 'org1/job1/chunked-multipart.bin';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'outputs', Key }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: 'outputs', Key, UploadId, PartNumber: 1, Body: Readable.from([big.subarray(0, 5 * 1024 * 1024)]), ContentLength: 5 * 1024 * 1024 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: 'outputs', Key, UploadId, PartNumber: 2, Body: Readable.from([big.subarray(5 * 1024 * 1024)]), ContentLength: 1024 * 1024 }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'outputs', Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
    const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key }))).Body!.transformToByteArray());
    expect(sha256(back)).toBe(sha256(big));
  });
});

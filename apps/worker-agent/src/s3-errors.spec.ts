import { GetObjectCommand } from '@aws-sdk/client-s3';
import { FakeS3, type S3Fault } from '../test/fake-s3';
import { describeS3Error, isTransientS3Error } from './s3-errors';
import { createS3Client } from './s3-transfer.service';

/** The error the real S3 client throws when the endpoint answers a GetObject with this fault. */
async function errorFor(s3: FakeS3, fault: S3Fault | null, endpoint = s3.url): Promise<unknown> {
  s3.fault = () => fault;
  const client = createS3Client({ endpoint, region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 's', packageBucket: 'b', packageKey: 'k', outputBucket: 'o', outputPrefix: 'p' });
  return client.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'missing.zip' })).then(
    () => null,
    (err: unknown) => err,
  );
}

describe('S3 error classification', () => {
  const s3 = new FakeS3();
  beforeAll(() => s3.start());
  afterAll(() => s3.stop());

  it.each([
    [{ status: 503, code: 'SlowDown' }, 'HTTP 503 SlowDown: fake SlowDown'],
    [{ status: 503, code: 'ServiceUnavailable' }, 'HTTP 503 ServiceUnavailable: fake ServiceUnavailable'],
    [{ status: 500, code: 'InternalError' }, 'HTTP 500 InternalError: fake InternalError'],
    [{ status: 429, code: 'TooManyRequests' }, 'HTTP 429 TooManyRequests: fake TooManyRequests'],
    [{ status: 503, code: 'storage_unavailable', problem: true }, 'HTTP 503'],
  ])('retries %j', async (fault, text) => {
    const err = await errorFor(s3, fault);
    expect(isTransientS3Error(err)).toBe(true);
    expect(describeS3Error(err)).toBe(text);
  });

  it('retries a dropped connection and a refused one', async () => {
    expect(isTransientS3Error(await errorFor(s3, 'reset'))).toBe(true);
    const refused = await errorFor(s3, null, 'http://127.0.0.1:1');
    expect(isTransientS3Error(refused)).toBe(true);
    expect(describeS3Error(refused)).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
  });

  it.each([
    [{ status: 403, code: 'AccessDenied' }, 'HTTP 403 AccessDenied: fake AccessDenied'],
    [null, 'HTTP 404 NoSuchKey: fake NoSuchKey'],
  ])('fails at once on %j', async (fault, text) => {
    const err = await errorFor(s3, fault);
    expect(isTransientS3Error(err)).toBe(false);
    expect(describeS3Error(err)).toBe(text);
  });

  it('does not retry local failures', () => {
    expect(isTransientS3Error(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe(false);
    expect(isTransientS3Error('boom')).toBe(false);
  });
});

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { DomainError } from '@ct/job-domain';
import { parseRangeHeader, resolveRange } from './byte-range';
import { HashingStream, verifyBody } from './hashing-stream';
import { paginate, decodeContinuationToken } from './listing';
import { errorXml, listObjectsV2Xml } from './s3-xml';
import { toS3Error } from './s3-errors';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

async function failure(r: Readable): Promise<DomainError | undefined> {
  try {
    await text(r);
    return undefined;
  } catch (e) {
    return e as DomainError;
  }
}

describe('verifyBody', () => {
  it('passes a matching body through', async () => {
    expect(await text(verifyBody(Readable.from(['ab', 'c']), { sha256: sha('abc'), contentLength: 3 }))).toBe('abc');
  });
  it('errors at the end on a hash mismatch, length mismatch or bad MD5', async () => {
    expect((await failure(verifyBody(Readable.from(['abc']), { sha256: sha('abd') })))?.details?.['s3Code']).toBe('XAmzContentSHA256Mismatch');
    expect((await failure(verifyBody(Readable.from(['abc']), { contentLength: 4 })))?.details?.['s3Code']).toBe('IncompleteBody');
    expect((await failure(verifyBody(Readable.from(['abc']), { md5Base64: 'AAAA' })))?.details?.['s3Code']).toBe('BadDigest');
  });
  it('errors as soon as the cap is exceeded', async () => {
    expect((await failure(verifyBody(Readable.from(['ab', 'cd']), { maxBytes: 3 })))?.code).toBe('payload_too_large');
  });
  it('HashingStream reports md5, sha256 and size', async () => {
    const h = new HashingStream();
    await text(Readable.from(['hello']).pipe(h));
    expect(h.result()).toEqual({ md5: createHash('md5').update('hello').digest('hex'), sha256: sha('hello'), size: 5 });
  });
});

describe('ranges', () => {
  it('parses and resolves', () => {
    expect(parseRangeHeader('bytes=0-9')).toEqual({ start: 0, end: 9 });
    expect(parseRangeHeader('bytes=5-')).toEqual({ start: 5 });
    expect(parseRangeHeader('bytes=-3')).toEqual({ suffix: 3 });
    expect(parseRangeHeader('bytes=0-1,3-4')).toBeUndefined();
    expect(resolveRange({ start: 5, end: 100 }, 10)).toEqual({ start: 5, end: 9 });
    expect(resolveRange({ suffix: 30 }, 10)).toEqual({ start: 0, end: 9 });
    expect(() => resolveRange({ start: 10 }, 10)).toThrow(DomainError);
  });
});

describe('paginate', () => {
  async function* objs(keys: string[]) {
    for (const key of keys) yield { key, size: 1, etag: '"x"', lastModified: new Date(0) };
  }
  it('rolls up common prefixes and resumes after the last item', async () => {
    const keys = ['p/a/1', 'p/a/2', 'p/b', 'p/c/1', 'p/d'];
    const first = await paginate(objs(keys), { prefix: 'p/', delimiter: '/', maxKeys: 2 });
    expect(first).toMatchObject({ commonPrefixes: ['p/a/'], isTruncated: true });
    expect(first.contents.map((c) => c.key)).toEqual(['p/b']);
    const after = decodeContinuationToken(first.nextContinuationToken ?? '');
    expect(after).toBe('p/b');
    const second = await paginate(objs(keys), { prefix: 'p/', delimiter: '/', maxKeys: 2, after });
    expect(second.commonPrefixes).toEqual(['p/c/']);
    expect(second.contents.map((c) => c.key)).toEqual(['p/d']);
    expect(second.isTruncated).toBe(false);
  });
});

describe('S3 XML and errors', () => {
  it('escapes values and uses the S3 namespace', () => {
    const xml = listObjectsV2Xml({ bucket: 'b', prefix: 'a&b', maxKeys: 1, encodeUrl: false, result: { contents: [{ key: '<k>', size: 1, etag: '"e"', lastModified: new Date(0) }], commonPrefixes: [], isTruncated: false } });
    expect(xml).toContain('xmlns="http://s3.amazonaws.com/doc/2006-03-01/"');
    expect(xml).toContain('<Key>&lt;k&gt;</Key>');
    expect(xml).toContain('<ETag>&quot;e&quot;</ETag>');
    expect(xml).toContain('<KeyCount>1</KeyCount>');
    expect(errorXml('NoSuchKey', 'm', 'R1')).toContain('<Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>R1</RequestId></Error>');
  });
  it('maps domain errors to S3 codes and hides unknown errors', () => {
    expect(toS3Error(new DomainError('not_found', 'x', { resource: 'bucket' }))).toMatchObject({ status: 404, code: 'NoSuchBucket' });
    expect(toS3Error(new DomainError('invalid_key', 'x'))).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect(toS3Error(new DomainError('signature_expired', 'x'))).toMatchObject({ status: 403, code: 'RequestTimeTooSkewed' });
    expect(toS3Error(new DomainError('credential_scope', 'x'))).toMatchObject({ status: 400, code: 'AuthorizationHeaderMalformed' });
    expect(toS3Error(new DomainError('payload_too_large', 'x'))).toMatchObject({ status: 413, code: 'EntityTooLarge' });
    expect(toS3Error(new DomainError('unsupported', 'x'))).toMatchObject({ status: 501, code: 'NotImplemented' });
    expect(toS3Error(new Error('secret stack'))).toEqual({ status: 500, code: 'InternalError', message: expect.not.stringContaining('secret') });
  });
});

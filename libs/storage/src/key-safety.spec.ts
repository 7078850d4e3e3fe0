import { DomainError } from '@ct/job-domain';
import { assertSafeKey, assertValidBucket, isSafeKey } from './key-safety';
import { parseS3Path } from './s3-route';

describe('assertSafeKey', () => {
  it.each(['a', 'org1/job1/out.bin', 'dir with space/naïve ✓.txt', 'a..b/c.', '.hidden/x', 'x'.repeat(1024)])('accepts %s', (k) => {
    expect(isSafeKey(k)).toBe(true);
  });
  it.each(['', '/abs', '../x', 'a/../b', 'a/./b', 'a/..', '.', 'a\\b', 'a\u0000b', 'a\nb', 'x'.repeat(1025), 'é'.repeat(513)])('rejects %j', (k) => {
    expect(() => assertSafeKey(k)).toThrow(DomainError);
    try {
      assertSafeKey(k);
    } catch (e) {
      expect((e as DomainError).code).toBe('invalid_key');
    }
  });
});

describe('assertValidBucket', () => {
  it.each(['outputs', 'datasets', 'my.bucket-1', 'abc'])('accepts %s', (b) => expect(() => assertValidBucket(b)).not.toThrow());
  it.each(['ab', 'Outputs', 'a_b', '-ab', 'a..b', '192.168.1.1', 'x'.repeat(64), '.ct-meta'])('rejects %s', (b) => expect(() => assertValidBucket(b)).toThrow(DomainError));
});

describe('parseS3Path', () => {
  const P = '/api/cloud/storage';
  it('routes service, bucket and object paths', () => {
    expect(parseS3Path(P, P)).toEqual({ kind: 'service' });
    expect(parseS3Path(`${P}/`, P)).toEqual({ kind: 'service' });
    expect(parseS3Path(`${P}/outputs`, P)).toEqual({ kind: 'bucket', bucket: 'outputs' });
    expect(parseS3Path(`${P}/outputs/`, P)).toEqual({ kind: 'bucket', bucket: 'outputs' });
    expect(parseS3Path(`${P}/outputs/a/b%20c%2Bd`, P)).toEqual({ kind: 'object', bucket: 'outputs', key: 'a/b c+d' });
    expect(parseS3Path('/other/outputs/x', P)).toBeNull();
    expect(parseS3Path(`${P}x/outputs`, P)).toBeNull();
  });
  it('refuses traversal, encoded or not', () => {
    expect(() => parseS3Path(`${P}/outputs/a/../b`, P)).toThrow(DomainError);
    expect(() => parseS3Path(`${P}/outputs/a/%2E%2E/b`, P)).toThrow(DomainError);
    expect(() => parseS3Path(`${P}/outputs//etc/passwd`, P)).toThrow(DomainError);
    expect(() => parseS3Path(`${P}/outputs/%ZZ`, P)).toThrow(URIError);
  });
});

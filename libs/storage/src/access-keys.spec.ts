import { apiKeyAccessKeyId, deriveSecret, jobAccessKeyId, parseAccessKeyId } from './access-keys';
import { isAllowed, narrowerListGrants, grantedBuckets, type Grant } from './grants';

describe('access key ids', () => {
  it('round-trips job ids and fences with only [A-Z0-9]', () => {
    for (const [jobId, fence] of [['clx9z2k0a0000qwerty1234', 0], ['0b7f3c1e-8a4d-4f2b-9c6e-1d2e3f4a5b6c', 42], ['a', 9007199254740991]] as const) {
      const id = jobAccessKeyId(jobId, fence);
      expect(id).toMatch(/^[A-Z0-9]{1,128}$/);
      expect(parseAccessKeyId(id)).toEqual({ kind: 'job', jobId, fence });
    }
  });
  it('round-trips api key ids', () => {
    const id = apiKeyAccessKeyId('key-123');
    expect(id).toMatch(/^CTK[A-Z2-7]+$/);
    expect(parseAccessKeyId(id)).toEqual({ kind: 'apikey', apiKeyId: 'key-123' });
  });
  it('rejects ids it did not mint', () => {
    for (const bad of ['', 'AKIAIOSFODNN7EXAMPLE', 'CTJ', 'CTJ81', 'CTJMFRGG', 'ctjmfrgg81', 'CTJMFRGG8', 'CTJMFRGG801', 'CTK', 'CTK1', 'X'.repeat(129), `CTJ${'A'.repeat(200)}81`]) {
      expect(parseAccessKeyId(bad)).toBeNull();
    }
  });
  it('refuses ids outside [a-z0-9-]', () => {
    expect(() => jobAccessKeyId('Job_1', 1)).toThrow();
    expect(() => jobAccessKeyId('job', -1)).toThrow();
    expect(() => apiKeyAccessKeyId('')).toThrow();
  });
  it('derives a stable 40-char base64url secret per key id', () => {
    const a = deriveSecret('master', 'CTJABC81');
    expect(a).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(deriveSecret('master', 'CTJABC81')).toBe(a);
    expect(deriveSecret('master', 'CTJABC82')).not.toBe(a);
    expect(deriveSecret('other', 'CTJABC81')).not.toBe(a);
  });
});

describe('grants', () => {
  const grants: Grant[] = [
    { bucket: 'outputs', prefix: 'org1/job1/', actions: ['read', 'write', 'list'] },
    { bucket: 'datasets', prefix: 'org1/', actions: ['read'] },
  ];
  it('allows only covered actions, buckets and prefixes', () => {
    expect(isAllowed(grants, 'write', 'outputs', 'org1/job1/a.bin')).toBe(true);
    expect(isAllowed(grants, 'write', 'outputs', 'org1/job2/a.bin')).toBe(false);
    expect(isAllowed(grants, 'write', 'datasets', 'org1/x.zip')).toBe(false);
    expect(isAllowed(grants, 'read', 'datasets', 'org1/x.zip')).toBe(true);
    expect(isAllowed(grants, 'list', 'outputs', 'org1/')).toBe(false);
    expect(isAllowed([], 'read', 'outputs', 'x')).toBe(false);
  });
  it('finds narrower list grants and granted buckets', () => {
    expect(narrowerListGrants(grants, 'outputs', 'org1/')).toHaveLength(1);
    expect(narrowerListGrants(grants, 'outputs', 'org2/')).toHaveLength(0);
    expect([...grantedBuckets(grants)].sort()).toEqual(['datasets', 'outputs']);
  });
});

import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { DomainError } from '@ct/job-domain';
import { verifySigV4, EMPTY_SHA256, type SigV4Request } from './sigv4-verify';

const AK = 'CTJTESTKEY';
const SECRET = 'secret-secret-secret-secret-secret-secre';
const NOW = new Date('2025-03-01T12:00:00Z');
const lookup = async (id: string) => (id === AK ? { secretAccessKey: SECRET, tag: 'ok' } : null);

function signer(opts: { region?: string; service?: string; secret?: string } = {}): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: AK, secretAccessKey: opts.secret ?? SECRET },
    region: opts.region ?? 'us-east-1',
    service: opts.service ?? 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
}

function toQueryString(query: Record<string, string | string[] | null>): string {
  return Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}

async function signed(
  overrides: { path?: string; query?: Record<string, string>; date?: Date; region?: string; service?: string; hash?: string; secret?: string } = {},
): Promise<SigV4Request> {
  const req = new HttpRequest({
    method: 'PUT',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path: overrides.path ?? '/api/cloud/storage/outputs/org1/my%20file%C3%A9.txt',
    query: overrides.query ?? { 'x-id': 'PutObject' },
    headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': overrides.hash ?? EMPTY_SHA256, 'content-type': 'text/plain' },
  });
  const out = await signer(overrides).sign(req, { signingDate: overrides.date ?? NOW });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers)) headers[k.toLowerCase()] = v;
  return { method: out.method, path: out.path, query: toQueryString(out.query as Record<string, string>), headers };
}

async function presigned(opts: { date?: Date; expiresIn?: number; method?: string } = {}): Promise<SigV4Request> {
  const req = new HttpRequest({
    method: opts.method ?? 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    path: '/api/cloud/storage/outputs/org1/a+b%20c.bin',
    query: { 'x-id': 'GetObject' },
    // What @aws-sdk/s3-request-presigner does: UNSIGNED-PAYLOAD, neither hoisted nor signed.
    headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const out = await signer().presign(req, {
    signingDate: opts.date ?? NOW,
    expiresIn: opts.expiresIn ?? 900,
    unsignableHeaders: new Set(['x-amz-content-sha256']),
    unhoistableHeaders: new Set(['x-amz-content-sha256']),
  });
  return { method: out.method, path: out.path, query: toQueryString(out.query as Record<string, string>), headers: { host: '127.0.0.1:9000' } };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
}

describe('verifySigV4 (Authorization header)', () => {
  it('accepts a request signed by @smithy/signature-v4', async () => {
    const v = await verifySigV4(await signed(), lookup, { now: NOW });
    expect(v.accessKeyId).toBe(AK);
    expect(v.credential.tag).toBe('ok');
    expect(v.payload).toEqual({ mode: 'sha256', sha256: EMPTY_SHA256 });
    expect(v.presigned).toBe(false);
  });

  it('reports UNSIGNED-PAYLOAD and rejects streaming payloads as unsupported', async () => {
    expect((await verifySigV4(await signed({ hash: 'UNSIGNED-PAYLOAD' }), lookup, { now: NOW })).payload).toEqual({ mode: 'unsigned' });
    expect(await codeOf(verifySigV4(await signed({ hash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }), lookup, { now: NOW }))).toBe('unsupported');
  });

  it('rejects tampering with path, header, query and signature', async () => {
    const base = await signed();
    expect(await codeOf(verifySigV4({ ...base, path: base.path.replace('org1', 'org2') }, lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4({ ...base, headers: { ...base.headers, 'content-type': 'text/html' } }, lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4({ ...base, query: 'x-id=GetObject' }, lookup, { now: NOW }))).toBe('signature_invalid');
    const auth = String(base.headers['authorization']);
    const flipped = auth.replace(/Signature=(.)/, (_m, c: string) => `Signature=${c === 'a' ? 'b' : 'a'}`);
    expect(await codeOf(verifySigV4({ ...base, headers: { ...base.headers, authorization: flipped } }, lookup, { now: NOW }))).toBe('signature_invalid');
  });

  it('rejects a wrong secret and an unknown key', async () => {
    expect(await codeOf(verifySigV4(await signed({ secret: 'x'.repeat(40) }), lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4(await signed(), async () => null, { now: NOW }))).toBe('signature_invalid');
  });

  it('rejects requests 20 minutes off', async () => {
    const late = new Date(NOW.getTime() + 20 * 60 * 1000);
    expect(await codeOf(verifySigV4(await signed(), lookup, { now: late }))).toBe('signature_expired');
    expect(await codeOf(verifySigV4(await signed({ date: late }), lookup, { now: NOW }))).toBe('signature_expired');
  });

  it('rejects a wrong credential scope (region, service, date)', async () => {
    expect(await codeOf(verifySigV4(await signed({ region: 'eu-west-1' }), lookup, { now: NOW }))).toBe('credential_scope');
    expect(await codeOf(verifySigV4(await signed({ service: 'execute-api' }), lookup, { now: NOW }))).toBe('credential_scope');
    const req = await signed();
    const auth = String(req.headers['authorization']).replace('/20250301/', '/20250228/');
    expect(await codeOf(verifySigV4({ ...req, headers: { ...req.headers, authorization: auth } }, lookup, { now: NOW }))).toBe('credential_scope');
  });

  it('rejects unsigned requests and other schemes', async () => {
    expect(await codeOf(verifySigV4({ method: 'GET', path: '/', query: '', headers: {} }, lookup, { now: NOW }))).toBe('unauthenticated');
    expect(await codeOf(verifySigV4({ method: 'GET', path: '/', query: '', headers: { authorization: 'AWS AK:sig' } }, lookup, { now: NOW }))).toBe('unauthenticated');
  });
});

describe('verifySigV4 (presigned URLs)', () => {
  it('accepts a presigned URL as UNSIGNED-PAYLOAD', async () => {
    const v = await verifySigV4(await presigned(), lookup, { now: new Date(NOW.getTime() + 60_000) });
    expect(v.presigned).toBe(true);
    expect(v.payload).toEqual({ mode: 'unsigned' });
  });

  it('rejects an expired presigned URL', async () => {
    expect(await codeOf(verifySigV4(await presigned({ expiresIn: 60 }), lookup, { now: new Date(NOW.getTime() + 61_000) }))).toBe('signature_expired');
  });

  it('rejects tampered presigned URLs', async () => {
    const p = await presigned();
    expect(await codeOf(verifySigV4({ ...p, path: p.path + 'x' }, lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4({ ...p, method: 'PUT' }, lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4({ ...p, query: p.query.replace('X-Amz-Expires=900', 'X-Amz-Expires=9000') }, lookup, { now: NOW }))).toBe('signature_invalid');
    expect(await codeOf(verifySigV4({ ...p, query: p.query.replace('us-east-1', 'eu-west-1') }, lookup, { now: NOW }))).toBe('credential_scope');
  });
});

import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { DomainError } from '@ct/job-domain';
import { parseRawQuery, s3EncodePath, type QueryMap } from './s3-uri';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface SigV4Request {
  method: string;
  /** Raw path exactly as received (still percent-encoded), without the query. */
  path: string;
  /** Raw query string without the leading '?'. */
  query: string;
  /** Header names lowercased (as node's IncomingMessage gives them). */
  headers: Record<string, string | string[] | undefined>;
}

export interface SigV4Options {
  region?: string;
  now?: Date;
  maxSkewMs?: number;
}

/** `unsigned-trailer`: an aws-chunked body with an optional checksum trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export type PayloadMode = { mode: 'sha256'; sha256: string } | { mode: 'unsigned' } | { mode: 'unsigned-trailer' };

export interface VerifiedSigV4<C> {
  accessKeyId: string;
  credential: C;
  payload: PayloadMode;
  presigned: boolean;
  signedAt: Date;
}

interface AuthParts {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

const fail = (code: 'signature_invalid' | 'signature_expired' | 'credential_scope' | 'unauthenticated' | 'unsupported', msg: string, s3Code?: string): never => {
  throw new DomainError(code, msg, s3Code ? { s3Code } : undefined);
};

function header(headers: SigV4Request['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parseAmzDate(value: string | undefined): Date {
  const m = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!m) return fail('unauthenticated', 'A valid x-amz-date (YYYYMMDDTHHMMSSZ) is required.', 'AccessDenied');
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

function parseCredential(credential: string, amzDate: string, region: string): Omit<AuthParts, 'signedHeaders' | 'signature' | 'amzDate'> {
  const parts = credential.split('/');
  if (parts.length !== 5) fail('credential_scope', 'The credential must be <key>/<date>/<region>/s3/aws4_request.');
  const [accessKeyId, scopeDate, scopeRegion, service, terminator] = parts as [string, string, string, string, string];
  if (!accessKeyId) fail('credential_scope', 'The credential has no access key id.');
  if (service !== 's3') fail('credential_scope', `The credential scope names service "${service}", expected "s3".`);
  if (terminator !== 'aws4_request') fail('credential_scope', 'The credential scope must end with aws4_request.');
  if (scopeRegion !== region) fail('credential_scope', `The credential scope names region "${scopeRegion}", expected "${region}".`);
  if (scopeDate !== amzDate.slice(0, 8)) fail('credential_scope', 'The credential scope date does not match x-amz-date.');
  return { accessKeyId, scopeDate, region: scopeRegion };
}

function parseAuthorizationHeader(value: string, amzDate: string, region: string): AuthParts {
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    fail('credential_scope', 'The Authorization header needs Credential, SignedHeaders and Signature.');
  }
  return {
    ...parseCredential(credential as string, amzDate, region),
    signedHeaders: (signedHeaders as string).split(';'),
    signature: signature as string,
    amzDate,
  };
}

function single(query: QueryMap, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkPayloadHeader(value: string | undefined): PayloadMode {
  if (value === undefined) return { mode: 'sha256', sha256: EMPTY_SHA256 };
  if (value === 'UNSIGNED-PAYLOAD') return { mode: 'unsigned' };
  if (value === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') return { mode: 'unsigned-trailer' };
  if (value.startsWith('STREAMING-')) {
    fail('unsupported', `Signed aws-chunked payloads (${value}) are not supported; use unsigned payloads (boto3 over HTTPS and the AWS SDKs do by default) or a signed SHA-256 of the whole body.`, 'NotImplemented');
  }
  if (!/^[0-9a-f]{64}$/i.test(value)) fail('signature_invalid', 'x-amz-content-sha256 must be a hex SHA-256 or UNSIGNED-PAYLOAD.', 'InvalidArgument');
  return { mode: 'sha256', sha256: value.toLowerCase() };
}

function sameSignature(expected: string, given: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

/** Paths to try: as received (what SDKs sign), then re-encoded the S3 way for clients that send raw chars. */
function pathCandidates(rawPath: string): string[] {
  const reencoded = s3EncodePath(rawPath);
  return reencoded && reencoded !== rawPath ? [rawPath, reencoded] : [rawPath];
}

/**
 * Verifies an S3 SigV4 request (Authorization header or presigned query) by recomputing the
 * signature with @smithy/signature-v4, signing exactly the headers the client listed.
 */
export async function verifySigV4<C extends { secretAccessKey: string }>(
  req: SigV4Request,
  lookup: (accessKeyId: string) => Promise<C | null>,
  opts: SigV4Options = {},
): Promise<VerifiedSigV4<C>> {
  const region = opts.region ?? 'us-east-1';
  const now = opts.now ?? new Date();
  const maxSkewMs = opts.maxSkewMs ?? 15 * 60 * 1000;
  const query = parseRawQuery(req.query);
  const authorization = header(req.headers, 'authorization');
  const presigned = authorization === undefined && single(query, 'X-Amz-Algorithm') !== undefined;

  let parts: AuthParts;
  let payload: PayloadMode;
  let expiresIn = 0;
  if (authorization !== undefined) {
    if (!authorization.startsWith(`${ALGORITHM} `)) fail('unauthenticated', `Only ${ALGORITHM} signatures are supported.`, 'AccessDenied');
    const amzDate = header(req.headers, 'x-amz-date') ?? '';
    parseAmzDate(amzDate);
    parts = parseAuthorizationHeader(authorization, amzDate, region);
    payload = checkPayloadHeader(header(req.headers, 'x-amz-content-sha256'));
  } else if (presigned) {
    if (single(query, 'X-Amz-Algorithm') !== ALGORITHM) fail('credential_scope', `X-Amz-Algorithm must be ${ALGORITHM}.`);
    const [credential, amzDate, expires, signedHeaders, signature] = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'].map((n) => single(query, n));
    if (!credential || !amzDate || !expires || !signedHeaders || !signature) {
      return fail('credential_scope', 'A presigned URL needs X-Amz-Credential, -Date, -Expires, -SignedHeaders and -Signature.');
    }
    parseAmzDate(amzDate);
    expiresIn = Number(expires);
    if (!/^\d+$/.test(expires) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) fail('credential_scope', 'X-Amz-Expires must be between 1 and 604800 seconds.');
    parts = { ...parseCredential(credential, amzDate, region), signedHeaders: signedHeaders.split(';'), signature, amzDate };
    const signedHash = parts.signedHeaders.includes('x-amz-content-sha256') ? header(req.headers, 'x-amz-content-sha256') : undefined;
    payload = signedHash ? checkPayloadHeader(signedHash) : { mode: 'unsigned' };
  } else {
    return fail('unauthenticated', 'The request is not signed.', 'AccessDenied');
  }

  const signedAt = parseAmzDate(parts.amzDate);
  if (presigned) {
    if (now.getTime() > signedAt.getTime() + expiresIn * 1000) fail('signature_expired', 'The presigned URL has expired.', 'AccessDenied');
    if (signedAt.getTime() - now.getTime() > maxSkewMs) fail('signature_expired', 'The presigned URL is not valid yet.', 'AccessDenied');
  } else if (Math.abs(now.getTime() - signedAt.getTime()) > maxSkewMs) {
    fail('signature_expired', 'The difference between the request time and the server time is too large.', 'RequestTimeTooSkewed');
  }
  if (!parts.signedHeaders.includes('host')) fail('credential_scope', 'SignedHeaders must include host.');

  const credential = await lookup(parts.accessKeyId);
  if (!credential) return fail('signature_invalid', 'The access key id does not exist.', 'InvalidAccessKeyId');

  const signed = new Set(parts.signedHeaders);
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const v = header(req.headers, name);
    if (v !== undefined) headers[name] = v;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: parts.accessKeyId, secretAccessKey: credential.secretAccessKey },
    region: parts.region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });

  for (const path of pathCandidates(req.path)) {
    let expected: string | undefined;
    if (presigned) {
      const q: QueryMap = { ...query };
      delete q['X-Amz-Signature'];
      const h = { ...headers };
      if (!signed.has('x-amz-content-sha256')) h['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      const request = new HttpRequest({ method: req.method, protocol: 'http:', hostname: headers['host'] ?? '', path, query: q, headers: h });
      const out = await signer.presign(request, {
        signingDate: signedAt,
        expiresIn,
        signingRegion: parts.region,
        signingService: 's3',
        signableHeaders: signed,
        unsignableHeaders: new Set(Object.keys(h).filter((n) => !signed.has(n))),
        unhoistableHeaders: new Set(Object.keys(h)),
      });
      expected = single(out.query as QueryMap, 'X-Amz-Signature');
    } else {
      const request = new HttpRequest({ method: req.method, protocol: 'http:', hostname: headers['host'] ?? '', path, query, headers });
      const unsignable = new Set(['x-amz-date', 'x-amz-content-sha256'].filter((n) => !signed.has(n)));
      const out = await signer.sign(request, { signingDate: signedAt, signingRegion: parts.region, signingService: 's3', signableHeaders: signed, unsignableHeaders: unsignable });
      expected = /Signature=([0-9a-f]{64})/.exec(String(out.headers['authorization']))?.[1];
    }
    if (expected && sameSignature(expected, parts.signature.toLowerCase())) {
      return { accessKeyId: parts.accessKeyId, credential, payload, presigned, signedAt };
    }
  }
  return fail('signature_invalid', 'The request signature we calculated does not match the signature you provided.', 'SignatureDoesNotMatch');
}

/** Test-only: uploads whose bodies lie about themselves, sent raw (the SDK would never send them). */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { crc32 } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { credentialsFor } from './s3-harness';

export interface RawResponse {
  status: number;
  body: string;
}

export interface SignedUpload {
  port: number;
  /** Path under the host, e.g. /api/cloud/storage/outputs/org1/job1/x */
  path: string;
  query?: Record<string, string>;
  /** The bytes actually sent. */
  body: Buffer;
  /** x-amz-content-sha256 to sign (default UNSIGNED-PAYLOAD). */
  payloadHash?: string;
  headers?: Record<string, string>;
  /** Send only this many bytes of the body, then cut the connection (a client that goes away). */
  disconnectAfter?: number;
  method?: string;
}

const md5b64 = (b: Buffer): string => createHash('md5').update(b).digest('base64');
const sha256hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const crc32b64 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
};

/** Signs with job1's credentials (SigV4 as the SDK does) and sends the request with node:http. */
export async function sendSigned(u: SignedUpload): Promise<RawResponse> {
  const signer = new SignatureV4({ credentials: credentialsFor('job1'), region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const host = `127.0.0.1:${u.port}`;
  const headers = { host, 'x-amz-content-sha256': u.payloadHash ?? 'UNSIGNED-PAYLOAD', 'content-length': String(u.body.length), ...u.headers };
  const method = u.method ?? 'PUT';
  const signed = await signer.sign(new HttpRequest({ method, protocol: 'http:', hostname: '127.0.0.1', port: u.port, path: u.path, query: u.query ?? {}, headers }));
  const qs = Object.entries(u.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: u.port, method, path: qs ? `${u.path}?${qs}` : u.path, headers: signed.headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    if (u.disconnectAfter !== undefined) {
      req.on('error', () => resolve({ status: 0, body: '' }));
      req.write(u.body.subarray(0, u.disconnectAfter), () => setTimeout(() => req.destroy(), 50));
      return;
    }
    req.on('error', reject);
    req.end(u.body);
  });
}

/** aws-chunked framing with a trailer line, as the AWS SDK writes it. */
export function awsChunked(data: Buffer, trailer: string, chunkSize = 64 * 1024): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailer}\r\n\r\n`));
  return Buffer.concat(parts);
}

export type Lie = 'content-md5' | 'x-amz-content-sha256' | 'crc32-trailer';
export const LIES: Lie[] = ['content-md5', 'x-amz-content-sha256', 'crc32-trailer'];
/** The S3 error code each lie must be answered with. */
export const CODE_FOR: Record<Lie, string> = { 'content-md5': 'BadDigest', 'x-amz-content-sha256': 'XAmzContentSHA256Mismatch', 'crc32-trailer': 'BadDigest' };

/** An upload of `data` whose declared digest is that of other bytes. */
export function lyingUpload(lie: Lie, base: Omit<SignedUpload, 'body' | 'payloadHash' | 'headers'>, data: Buffer): SignedUpload {
  const other = Buffer.concat([data.subarray(0, data.length - 1), Buffer.from([data[data.length - 1]! ^ 0xff])]);
  switch (lie) {
    case 'content-md5':
      return { ...base, body: data, headers: { 'content-md5': md5b64(other) } };
    case 'x-amz-content-sha256':
      return { ...base, body: data, payloadHash: sha256hex(other) };
    case 'crc32-trailer':
      return {
        ...base,
        body: awsChunked(data, `x-amz-checksum-crc32:${crc32b64(other)}`),
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': String(data.length) },
      };
  }
}

/** The same upload told truthfully (signed SHA-256), to show the endpoint still works after the lies. */
export function honestUpload(base: Omit<SignedUpload, 'body' | 'payloadHash' | 'headers'>, data: Buffer): SignedUpload {
  return { ...base, body: data, payloadHash: sha256hex(data), headers: { 'content-md5': md5b64(data) } };
}

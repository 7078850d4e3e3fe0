import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { DomainError } from '@ct/job-domain';
import { pipeOnRead } from './pipe-on-read';

/** Pass-through that computes MD5 and SHA-256 and counts bytes, so hashing costs no extra read. */
export class HashingStream extends Transform {
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash = createHash('sha256');
  bytes = 0;
  private digests?: { md5: string; sha256: string };

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk);
    this.sha256.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** Hex digests; only valid once the stream has finished. */
  result(): { md5: string; sha256: string; size: number } {
    this.digests ??= { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
    return { ...this.digests, size: this.bytes };
  }
}

export interface BodyExpectations {
  /** Hex SHA-256 the client signed (x-amz-content-sha256). */
  sha256?: string;
  /** Base64 MD5 (Content-MD5). */
  md5Base64?: string;
  /** Exact number of bytes announced (Content-Length). */
  contentLength?: number;
  /** Hard cap; exceeding it fails with payload_too_large as soon as it happens. */
  maxBytes?: number;
}

/**
 * A stage that fails (errors *before* it ends) on a hash, length or cap mismatch, so a driver consuming it never
 * commits an object whose bytes the client did not sign. Connect it with {@link verifyBody} or pipeOnRead.
 */
export function bodyVerifier(expect: BodyExpectations): Transform {
  const sha = expect.sha256 ? createHash('sha256') : undefined;
  const md5 = expect.md5Base64 ? createHash('md5') : undefined;
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (expect.maxBytes !== undefined && bytes > expect.maxBytes) {
        cb(new DomainError('payload_too_large', `The object exceeds the maximum size of ${expect.maxBytes} bytes.`));
        return;
      }
      if (expect.contentLength !== undefined && bytes > expect.contentLength) {
        cb(new DomainError('validation_failed', 'The body is longer than Content-Length.', { s3Code: 'IncompleteBody' }));
        return;
      }
      sha?.update(chunk);
      md5?.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      if (expect.contentLength !== undefined && bytes !== expect.contentLength) {
        cb(new DomainError('validation_failed', 'The body is shorter than Content-Length.', { s3Code: 'IncompleteBody' }));
      } else if (sha && sha.digest('hex') !== expect.sha256?.toLowerCase()) {
        cb(new DomainError('signature_invalid', 'The x-amz-content-sha256 does not match the body.', { s3Code: 'XAmzContentSHA256Mismatch' }));
      } else if (md5 && md5.digest('base64') !== expect.md5Base64) {
        cb(new DomainError('validation_failed', 'The Content-MD5 does not match the body.', { s3Code: 'BadDigest' }));
      } else {
        cb();
      }
    },
  });
}

/**
 * `body` verified by {@link bodyVerifier}, connected only once the result is read (see pipeOnRead: a check
 * failing before the driver reads must not become an uncaught exception). A failure of `body` itself, or an early
 * end, reaches the reader as IncompleteBody; `body` is never destroyed by a failed check.
 */
export function verifyBody(body: Readable, expect: BodyExpectations): Readable {
  return pipeOnRead(body, [bodyVerifier(expect)], { sourceFailure: asIncompleteBody });
}

/** What a reader sees when the request body breaks off (the client disconnected, the socket failed). */
export function asIncompleteBody(err: Error): Error {
  if (err instanceof DomainError) return err;
  return new DomainError('validation_failed', 'The request body ended before all of its bytes arrived.', { s3Code: 'IncompleteBody' });
}

/** Convenience: verify only the signed SHA-256 of a body. */
export function verifyPayloadHash(body: Readable, expectedSha256Hex: string): Readable {
  return verifyBody(body, { sha256: expectedSha256Hex });
}

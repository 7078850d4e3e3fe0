import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { DomainError } from '@ct/job-domain';

const MAX_LINE = 4096;
const CRLF = Buffer.from('\r\n');

const bad = (message: string, s3Code = 'IncompleteBody'): DomainError => new DomainError('validation_failed', message, { s3Code });

/** Incremental checksum of the decoded bytes for the trailer algorithms we can check; null = not checked. */
function checksumFor(trailer: string | undefined): { update(b: Buffer): void; digest(): string } | null {
  switch (trailer) {
    case 'x-amz-checksum-crc32': {
      let c = 0;
      return {
        update: (b) => void (c = crc32(b, c)),
        digest: () => {
          const out = Buffer.alloc(4);
          out.writeUInt32BE(c >>> 0);
          return out.toString('base64');
        },
      };
    }
    case 'x-amz-checksum-sha256':
    case 'x-amz-checksum-sha1': {
      const h: Hash = createHash(trailer === 'x-amz-checksum-sha256' ? 'sha256' : 'sha1');
      return { update: (b) => void h.update(b), digest: () => h.digest('base64') };
    }
    default:
      return null; // crc32c, crc64nvme: no implementation in Node's standard library; the trailer is read, not checked
  }
}

/**
 * Decodes an `aws-chunked` body as sent with `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`
 * (the default of the AWS SDKs and boto3 ≥ 1.36 for streamed uploads): `<hex size>\r\n<bytes>\r\n` chunks,
 * a `0\r\n` chunk, then trailer lines (`x-amz-checksum-crc32:<base64>`) and an empty line. The checksum the
 * `x-amz-trailer` header announced is verified when Node can compute it (CRC32, SHA-1, SHA-256); a mismatch
 * or a malformed body makes the stream error before it ends, so no object is committed.
 */
export class AwsChunkedDecoder extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private readonly checksum: ReturnType<typeof checksumFor>;
  /** Trailer headers received, lower-case names. */
  readonly trailers = new Map<string, string>();

  constructor(private readonly trailerName?: string) {
    super();
    this.trailerName = trailerName?.trim().toLowerCase() || undefined;
    this.checksum = checksumFor(this.trailerName);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.consume();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.state !== 'done') return cb(bad('The aws-chunked body ended before its final chunk and trailer.'));
    if (this.trailerName) {
      const given = this.trailers.get(this.trailerName);
      if (given === undefined) return cb(bad(`The trailer ${this.trailerName} announced in x-amz-trailer is missing.`, 'InvalidRequest'));
      if (this.checksum && this.checksum.digest() !== given) return cb(bad(`The ${this.trailerName} trailer does not match the body.`, 'BadDigest'));
    }
    cb();
  }

  private line(): string | null {
    const i = this.buf.indexOf(CRLF);
    if (i < 0) {
      if (this.buf.length > MAX_LINE) throw bad('An aws-chunked header line is too long.', 'InvalidRequest');
      return null;
    }
    const text = this.buf.subarray(0, i).toString('latin1');
    this.buf = this.buf.subarray(i + 2);
    return text;
  }

  private consume(): void {
    for (;;) {
      switch (this.state) {
        case 'size': {
          const l = this.line();
          if (l === null) return;
          const m = /^([0-9a-fA-F]{1,16})(;.*)?$/.exec(l);
          if (!m) throw bad('Malformed aws-chunked chunk size.', 'InvalidRequest');
          this.remaining = parseInt(m[1] ?? '', 16);
          this.state = this.remaining === 0 ? 'trailer' : 'data';
          break;
        }
        case 'data': {
          if (this.buf.length === 0) return;
          const take = Math.min(this.remaining, this.buf.length);
          const data = this.buf.subarray(0, take);
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          this.checksum?.update(data);
          this.push(data);
          if (this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'data-end': {
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) throw bad('An aws-chunked chunk is longer than its size.', 'InvalidRequest');
          this.buf = this.buf.subarray(2);
          this.state = 'size';
          break;
        }
        case 'trailer': {
          const l = this.line();
          if (l === null) return;
          if (l === '') {
            this.state = 'done';
            break;
          }
          const colon = l.indexOf(':');
          if (colon <= 0) throw bad('Malformed aws-chunked trailer.', 'InvalidRequest');
          this.trailers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
          break;
        }
        case 'done':
          if (this.buf.length > 0) throw bad('Bytes follow the end of the aws-chunked body.', 'InvalidRequest');
          return;
      }
    }
  }
}

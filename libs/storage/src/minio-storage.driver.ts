import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'minio';
import { DomainError } from '@ct/job-domain';
import { resolveRange } from './byte-range';
import { HashingStream } from './hashing-stream';
import { assertSafeKey, assertValidBucket } from './key-safety';
import { compareKeys, decodeContinuationToken, encodeContinuationToken } from './listing';
import { uploadChunks } from './minio-upload';
import { deletePrefixByPages } from './prefix-deletion';
import type {
  BucketInfo, ByteRange, DeletePrefixOptions, GetObjectResult, ListObjectsOptions, ListObjectsResult,
  ObjectInfo, PutObjectOptions, PutObjectResult, StorageDriver,
} from './storage-driver';

export interface MinioStorageOptions {
  endPoint: string;
  port?: number;
  useSSL?: boolean;
  accessKey: string;
  secretKey: string;
  region?: string;
  /**
   * Multipart part size. One part is buffered in memory, so this bounds memory per upload (default 8 MiB; S3
   * minimum 5 MiB); objects larger than one part are sent as multipart uploads.
   */
  partSize?: number;
}

const quote = (etag: string): string => (etag.startsWith('"') ? etag : `"${etag}"`);
const errCode = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;

/** Objects in MinIO (or any S3 server) through the minio client. */
export class MinioStorageDriver implements StorageDriver {
  readonly client: Client;
  private readonly partSize: number;

  constructor(private readonly opts: MinioStorageOptions) {
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    this.client = new Client({
      endPoint: opts.endPoint,
      port: opts.port,
      useSSL: opts.useSSL ?? false,
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      // A fixed region spares a GetBucketLocation round trip before every first request.
      region: opts.region ?? 'us-east-1',
      partSize: this.partSize,
      pathStyle: true,
    });
  }

  private check(bucket: string, key?: string): void {
    assertValidBucket(bucket);
    if (key !== undefined) assertSafeKey(key);
  }

  /** Maps the client's "missing" errors to not_found, telling a missing bucket from a missing key. */
  private async mapMissing(e: unknown, bucket: string, key: string): Promise<never> {
    const code = errCode(e);
    if (code === 'NoSuchBucket') throw new DomainError('not_found', `Bucket ${bucket} does not exist.`, { resource: 'bucket' });
    if (code === 'NoSuchKey' || code === 'NotFound') {
      if (!(await this.bucketExists(bucket))) throw new DomainError('not_found', `Bucket ${bucket} does not exist.`, { resource: 'bucket' });
      throw new DomainError('not_found', `Object ${key} does not exist.`, { resource: 'object' });
    }
    throw e;
  }

  async bucketExists(bucket: string): Promise<boolean> {
    this.check(bucket);
    return this.client.bucketExists(bucket);
  }

  async ensureBucket(bucket: string): Promise<void> {
    this.check(bucket);
    if (await this.client.bucketExists(bucket)) return;
    try {
      await this.client.makeBucket(bucket, this.opts.region ?? 'us-east-1');
    } catch (e) {
      // Several services may race to create the same bucket at boot.
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(errCode(e) ?? '')) throw e;
    }
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const buckets = await this.client.listBuckets();
    return buckets.map((b) => ({ name: b.name, creationDate: b.creationDate }));
  }

  async putObject(bucket: string, key: string, body: Readable, opts: PutObjectOptions = {}): Promise<PutObjectResult> {
    this.check(bucket, key);
    if (!(await this.bucketExists(bucket))) throw new DomainError('not_found', `Bucket ${bucket} does not exist.`, { resource: 'bucket' });
    const hasher = new HashingStream();
    const target = { client: this.client, bucket, key, contentType: opts.contentType || 'application/octet-stream', partSize: this.partSize, contentLength: opts.contentLength };
    let etag = '';
    // pipeline() hands a failure of the body (a failed check, a client gone) to uploadChunks, which then stores nothing.
    await pipeline(body, hasher, async (hashed: AsyncIterable<Buffer>) => {
      etag = await uploadChunks(target, hashed, () => {
        const { size } = hasher.result();
        if (opts.contentLength !== undefined && size !== opts.contentLength) {
          throw new DomainError('validation_failed', `Expected ${opts.contentLength} bytes, received ${size}.`, { s3Code: 'IncompleteBody' });
        }
      });
    });
    const { sha256, size } = hasher.result();
    return { size, etag: quote(etag), sha256 };
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    this.check(bucket, key);
    try {
      const st = await this.client.statObject(bucket, key);
      const contentType = st.metaData['content-type'];
      return {
        size: st.size,
        etag: quote(st.etag),
        contentType: typeof contentType === 'string' ? contentType : 'application/octet-stream',
        lastModified: new Date(st.lastModified),
      };
    } catch (e) {
      return this.mapMissing(e, bucket, key);
    }
  }

  async getObject(bucket: string, key: string, opts: { range?: ByteRange } = {}): Promise<GetObjectResult> {
    const info = await this.headObject(bucket, key);
    try {
      if (!opts.range) return { ...info, totalSize: info.size, body: await this.client.getObject(bucket, key) };
      const { start, end } = resolveRange(opts.range, info.size);
      const length = end - start + 1;
      return {
        ...info,
        size: length,
        totalSize: info.size,
        contentRange: `bytes ${start}-${end}/${info.size}`,
        body: await this.client.getPartialObject(bucket, key, start, length),
      };
    } catch (e) {
      if (e instanceof DomainError) throw e;
      return this.mapMissing(e, bucket, key);
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.check(bucket, key);
    try {
      await this.client.removeObject(bucket, key);
    } catch (e) {
      if (errCode(e) === 'NoSuchKey') return;
      await this.mapMissing(e, bucket, key);
    }
  }

  /** See StorageDriver.deletePrefix; each page is one DeleteObjects request. */
  async deletePrefix(bucket: string, prefix: string, opts?: DeletePrefixOptions): Promise<number> {
    this.check(bucket);
    return deletePrefixByPages(this, bucket, prefix, async (keys) => {
      // Quiet mode: the server answers only the keys it failed to remove.
      const failed = (await this.client.removeObjects(bucket, keys)).filter((f) => f != null);
      if (failed.length > 0) throw new Error(`${failed.length} of ${keys.length} objects under the prefix could not be removed from ${bucket}.`);
      return keys.length;
    }, opts);
  }

  /**
   * Nothing to do: an interrupted putObject leaves only an open multipart upload on the server, and MinIO expires
   * those itself (api stale_uploads_expiry, 24 h by default; on AWS S3 an AbortIncompleteMultipartUpload
   * lifecycle rule does it).
   */
  async pruneTemporary(_olderThanMs: number): Promise<number> {
    return 0;
  }

  /**
   * Pages with our own continuation token (the last item, as in the fs driver) sent as a V1 marker:
   * it behaves the same on every S3 server (s3rver's native tokens, for one, fail on Node 20).
   */
  async listObjectsV2(bucket: string, opts: ListObjectsOptions): Promise<ListObjectsResult> {
    this.check(bucket);
    if (opts.maxKeys <= 0) return { contents: [], commonPrefixes: [], isTruncated: false };
    const after = opts.continuationToken !== undefined ? decodeContinuationToken(opts.continuationToken) : opts.startAfter;
    const delimiter = opts.delimiter ?? '';
    // Resuming after a common prefix must skip everything under it, not only the prefix string itself.
    const rolledUp = after !== undefined && delimiter !== '' && after.startsWith(opts.prefix) && after.endsWith(delimiter);
    const serverAfter = rolledUp ? `${after}\u{10FFFF}` : (after ?? '');
    try {
      // V1 listing with a marker: s3rver cannot mint V2 tokens, and the marker is all we need anyway.
      const res = await this.client.listObjectsQuery(bucket, opts.prefix, serverAfter, { Delimiter: delimiter, MaxKeys: Math.min(opts.maxKeys, 1000) });
      const out: ListObjectsResult = { contents: [], commonPrefixes: [], isTruncated: res.isTruncated === true };
      let last: string | undefined;
      for (const o of res.objects) {
        const item = o.prefix ?? o.name;
        if (item === undefined) continue;
        if (last === undefined || compareKeys(item, last) > 0) last = item;
        if (after !== undefined && compareKeys(item, after) <= 0) continue;
        if (o.prefix !== undefined) out.commonPrefixes.push(o.prefix);
        else out.contents.push({ key: item, size: o.size ?? 0, etag: quote(o.etag ?? ''), lastModified: new Date(o.lastModified ?? 0) });
      }
      if (res.isTruncated && last !== undefined) out.nextContinuationToken = encodeContinuationToken(last);
      return out;
    } catch (e) {
      return this.mapMissing(e, bucket, '');
    }
  }
}

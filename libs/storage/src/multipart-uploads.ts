import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DomainError } from '@ct/job-domain';
import { S3Error } from './s3-errors';
import type { PutObjectResult, StorageDriver } from './storage-driver';

/** Parts of unfinished uploads live here, one folder per upload; no grant ever names this bucket. */
export const MULTIPART_STAGING_BUCKET = 'ct-multipart-staging';
/** S3's rules: every part but the last is at least 5 MiB; part numbers run 1..10000. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  contentType: string;
  orgId: string;
  initiated: string;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
}

const UPLOAD_ID = /^[A-Za-z0-9_-]{32}$/;
const recordKey = (uploadId: string): string => `${uploadId}/upload.json`;
const partKey = (uploadId: string, n: number): string => `${uploadId}/part-${String(n).padStart(5, '0')}`;
const noSuchUpload = (): S3Error => new S3Error('NoSuchUpload', 'The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');

/**
 * S3 multipart uploads over any StorageDriver. Each part is streamed into the staging bucket as an object of
 * its own (so parts can arrive in any order, in parallel, and be retried); completing streams the listed
 * parts, in order, into the destination through the driver's ordinary putObject, which hashes the whole
 * object on the way (the artifact index needs its SHA-256), then deletes the staging folder. Nothing is held
 * in memory beyond a stream chunk. The destination ETag is the MD5 of the whole object (S3 would answer
 * "md5-of-part-md5s-N"; clients do not check either for multipart objects).
 */
export class MultipartUploads {
  constructor(
    private readonly driver: StorageDriver,
    private readonly opts: { stagingBucket?: string; minPartBytes?: number; now?: () => Date } = {},
  ) {}

  private get staging(): string {
    return this.opts.stagingBucket ?? MULTIPART_STAGING_BUCKET;
  }

  async create(bucket: string, key: string, init: { contentType?: string; orgId: string }): Promise<MultipartUpload> {
    if (!(await this.driver.bucketExists(bucket))) throw new DomainError('not_found', `Bucket ${bucket} does not exist.`, { resource: 'bucket' });
    await this.driver.ensureBucket(this.staging);
    const upload: MultipartUpload = {
      uploadId: randomBytes(24).toString('base64url'),
      bucket, key, contentType: init.contentType || 'application/octet-stream', orgId: init.orgId,
      initiated: (this.opts.now?.() ?? new Date()).toISOString(),
    };
    const json = Buffer.from(JSON.stringify(upload));
    await this.driver.putObject(this.staging, recordKey(upload.uploadId), Readable.from([json]), { contentLength: json.length, contentType: 'application/json' });
    return upload;
  }

  /** The upload, if it exists and was started for this bucket, key and organisation; otherwise NoSuchUpload. */
  async get(uploadId: string, bucket: string, key: string, orgId: string): Promise<MultipartUpload> {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    let upload: MultipartUpload;
    try {
      upload = await this.readRecord(uploadId);
    } catch (e) {
      if (e instanceof DomainError && e.code === 'not_found') throw noSuchUpload();
      throw e;
    }
    if (upload.bucket !== bucket || upload.key !== key || upload.orgId !== orgId) throw noSuchUpload();
    return upload;
  }

  private async readRecord(uploadId: string): Promise<MultipartUpload> {
    const obj = await this.driver.getObject(this.staging, recordKey(uploadId));
    const chunks: Buffer[] = [];
    for await (const c of obj.body) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as MultipartUpload;
  }

  async uploadPart(upload: MultipartUpload, partNumber: number, body: Readable, contentLength: number): Promise<{ etag: string; size: number }> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`);
    }
    const put = await this.driver.putObject(this.staging, partKey(upload.uploadId, partNumber), body, { contentLength });
    return { etag: put.etag, size: put.size };
  }

  async listParts(upload: MultipartUpload): Promise<UploadedPart[]> {
    const parts: UploadedPart[] = [];
    let token: string | undefined;
    do {
      const page = await this.driver.listObjectsV2(this.staging, { prefix: `${upload.uploadId}/part-`, maxKeys: 1000, continuationToken: token });
      for (const o of page.contents) parts.push({ partNumber: Number(o.key.slice(o.key.lastIndexOf('-') + 1)), etag: o.etag, size: o.size, lastModified: o.lastModified });
      token = page.isTruncated ? page.nextContinuationToken : undefined;
    } while (token);
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Assembles the parts the client listed (ascending numbers, matching ETags) into the destination object. */
  async complete(upload: MultipartUpload, requested: Array<{ partNumber: number; etag: string }>): Promise<PutObjectResult> {
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema: no parts.');
    for (let i = 1; i < requested.length; i++) {
      if ((requested[i]?.partNumber ?? 0) <= (requested[i - 1]?.partNumber ?? 0)) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
    }
    const stored = new Map((await this.listParts(upload)).map((p) => [p.partNumber, p]));
    const unquote = (e: string): string => e.replace(/^"|"$/g, '').toLowerCase();
    const min = this.opts.minPartBytes ?? MIN_PART_BYTES;
    const parts = requested.map((r, i) => {
      const p = stored.get(r.partNumber);
      if (!p || unquote(p.etag) !== unquote(r.etag)) {
        throw new S3Error('InvalidPart', `Part ${r.partNumber} could not be found, or its ETag does not match the one given.`);
      }
      if (i < requested.length - 1 && p.size < min) throw new S3Error('EntityTooSmall', `Part ${r.partNumber} is ${p.size} bytes; every part but the last must be at least ${min} bytes.`);
      return p;
    });
    const contentLength = parts.reduce((s, p) => s + p.size, 0);
    const { driver, staging } = this;
    const body = Readable.from(
      (async function* concat() {
        for (const p of parts) {
          const obj = await driver.getObject(staging, partKey(upload.uploadId, p.partNumber));
          yield* obj.body as AsyncIterable<Buffer>;
        }
      })(),
    );
    const result = await this.driver.putObject(upload.bucket, upload.key, body, { contentLength, contentType: upload.contentType });
    await this.discard(upload.uploadId);
    return result;
  }

  /** Open uploads of one organisation in one bucket whose keys start with `prefix`, oldest first. */
  async list(bucket: string, orgId: string, prefix = ''): Promise<MultipartUpload[]> {
    const out: MultipartUpload[] = [];
    for (const uploadId of await this.uploadIds()) {
      const upload = await this.readRecord(uploadId).catch(() => null);
      if (upload && upload.bucket === bucket && upload.orgId === orgId && upload.key.startsWith(prefix)) out.push(upload);
    }
    return out.sort((a, b) => a.initiated.localeCompare(b.initiated));
  }

  /**
   * Aborts every open upload, of any organisation, of a key in `bucket` starting with `prefix` (deleting a job's
   * objects). Uploads are found by their records, one small read per open upload. Returns how many were aborted.
   */
  async abortUnder(bucket: string, prefix: string): Promise<number> {
    let aborted = 0;
    for (const uploadId of await this.uploadIds()) {
      const upload = await this.readRecord(uploadId).catch(() => null);
      if (upload?.bucket !== bucket || !upload.key.startsWith(prefix)) continue;
      await this.discard(uploadId);
      aborted++;
    }
    return aborted;
  }

  /** Every upload folder in the staging bucket. */
  private async uploadIds(): Promise<string[]> {
    if (!(await this.driver.bucketExists(this.staging))) return [];
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.driver.listObjectsV2(this.staging, { prefix: '', delimiter: '/', maxKeys: 1000, continuationToken: token });
      for (const folder of page.commonPrefixes) {
        const id = folder.replace(/\/$/, '');
        if (UPLOAD_ID.test(id)) ids.push(id);
      }
      token = page.isTruncated ? page.nextContinuationToken : undefined;
    } while (token);
    return ids;
  }

  /**
   * Aborts uploads started more than `olderThanMs` ago and never completed nor aborted (S3 servers do this
   * with a lifecycle rule). Returns how many were removed.
   */
  async pruneStale(olderThanMs: number): Promise<number> {
    const cutoff = (this.opts.now?.() ?? new Date()).getTime() - olderThanMs;
    const stale: string[] = [];
    for (const uploadId of await this.uploadIds()) {
      const initiated = await this.initiatedAt(uploadId);
      if (initiated === null || initiated < cutoff) stale.push(uploadId);
    }
    for (const id of stale) await this.discard(id);
    return stale.length;
  }

  /** When the upload was started, from its record (or its newest part if the record is unreadable). */
  private async initiatedAt(uploadId: string): Promise<number | null> {
    try {
      const t = Date.parse((await this.readRecord(uploadId)).initiated);
      return Number.isFinite(t) ? t : null;
    } catch {
      const parts = await this.listParts({ uploadId } as MultipartUpload);
      return parts.length ? Math.max(...parts.map((p) => p.lastModified.getTime())) : null;
    }
  }

  async abort(upload: MultipartUpload): Promise<void> {
    await this.discard(upload.uploadId);
  }

  /** Deletes every part and the record; parts first, so a crash midway leaves a record to abort again. */
  private async discard(uploadId: string): Promise<void> {
    for (const p of await this.listParts({ uploadId } as MultipartUpload)) await this.driver.deleteObject(this.staging, partKey(uploadId, p.partNumber));
    await this.driver.deleteObject(this.staging, recordKey(uploadId));
  }
}

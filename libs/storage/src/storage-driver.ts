import type { Readable } from 'node:stream';

/** Byte range as parsed from a Range header; resolved against the object size by the driver. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface PutObjectOptions {
  /** When given, the driver fails unless exactly this many bytes arrive. */
  contentLength?: number;
  contentType?: string;
}

export interface PutObjectResult {
  size: number;
  /** Quoted like S3 sends it, e.g. "\"9e107d9d372bb6826bd81d3542a419d6\"". */
  etag: string;
  /** Hex SHA-256 of the stored bytes, computed while streaming. */
  sha256: string;
}

export interface ObjectInfo {
  size: number;
  etag: string;
  contentType: string;
  lastModified: Date;
}

export interface GetObjectResult extends ObjectInfo {
  body: Readable;
  /** Present for ranged reads: "bytes start-end/total". `size` is then the length of the range. */
  contentRange?: string;
  /** Size of the whole object (equals `size` unless ranged). */
  totalSize: number;
}

export interface ListObjectsOptions {
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  continuationToken?: string;
  startAfter?: string;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListObjectsResult {
  contents: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextContinuationToken?: string;
}

export interface DeletePrefixOptions {
  /** Keys per listing page, i.e. the most held in memory at once (default 1,000, S3's maximum). */
  pageKeys?: number;
}

export interface BucketInfo {
  name: string;
  creationDate: Date;
}

/**
 * Where object bytes live. Streaming only: implementations never buffer a whole object.
 * Missing objects or buckets raise DomainError('not_found') (details.resource = 'object' | 'bucket').
 */
export interface StorageDriver {
  putObject(bucket: string, key: string, body: Readable, opts?: PutObjectOptions): Promise<PutObjectResult>;
  getObject(bucket: string, key: string, opts?: { range?: ByteRange }): Promise<GetObjectResult>;
  headObject(bucket: string, key: string): Promise<ObjectInfo>;
  /** Idempotent like S3: deleting a missing key succeeds. */
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjectsV2(bucket: string, opts: ListObjectsOptions): Promise<ListObjectsResult>;
  listBuckets(): Promise<BucketInfo[]>;
  bucketExists(bucket: string): Promise<boolean>;
  ensureBucket(bucket: string): Promise<void>;
  /**
   * Removes every object whose key starts with `prefix`, a page of the listing at a time (never the whole
   * listing in memory), and aborts the S3 endpoint's open multipart uploads of such keys. Returns how many
   * objects were removed. An empty prefix is refused (validation_failed): a bug must not empty a bucket.
   * A single PUT still streaming while this runs may land afterwards; delete once writers are done.
   */
  deletePrefix(bucket: string, prefix: string, opts?: DeletePrefixOptions): Promise<number>;
  /**
   * Removes what interrupted writes left behind (a process that died mid-upload) and that is older than
   * `olderThanMs`; returns how many items were removed. Writes in progress are left alone.
   */
  pruneTemporary(olderThanMs: number): Promise<number>;
}

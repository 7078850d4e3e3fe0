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
}

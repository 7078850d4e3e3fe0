import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3Grant } from '@ct/contracts';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { OutageError } from './outage-window.util';
import { withRetry, type RetryOptions } from './retry.util';
import { describeS3Error, isTransientS3Error } from './s3-errors';

/** Files above this go up in parts: single PUTs top out at 5 GiB and a retry would resend everything. */
export const DEFAULT_MULTIPART = { thresholdBytes: 256 * 1024 * 1024, partBytes: 64 * 1024 * 1024 };
export type MultipartOptions = typeof DEFAULT_MULTIPART;

/** The SDK's own warnings (a failed streamed upload) go to the agent's log at debug: the retry loop reports failures. */
function sdkLogger(logger: Logger | undefined): { debug: () => void; info: () => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void } {
  const toDebug = (...args: unknown[]): void => logger?.debug({ sdk: args.map(String).join(' ') }, 'S3 client message');
  return { debug: () => undefined, info: () => undefined, warn: toDebug, error: toDebug };
}

export function createS3Client(grant: S3Grant, logger?: Logger): S3Client {
  return new S3Client({
    logger: sdkLogger(logger),
    endpoint: grant.endpoint,
    region: grant.region,
    forcePathStyle: true,
    credentials: { accessKeyId: grant.accessKeyId, secretAccessKey: grant.secretAccessKey },
    // The built-in endpoint and MinIO do not speak the SDK's newer default checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The agent's own retry loop owns retries: it reopens the file for every attempt (the SDK cannot
    // resend a consumed stream) and knows the outage window.
    maxAttempts: 1,
    // Without timeouts a storage endpoint that accepts connections but never answers hangs the job. The
    // idle limit is generous: completing a multipart upload of a large model can keep the socket quiet.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 300_000 },
  });
}

/** Streams the package object to destFile without holding it in memory. */
export async function downloadObject(client: S3Client, bucket: string, key: string, destFile: string, signal?: AbortSignal): Promise<void> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  if (!(res.Body instanceof Readable)) throw new Error(`download of ${bucket}/${key} returned no stream`);
  await pipeline(res.Body, createWriteStream(destFile), { signal });
}

/** downloadObject, retried like every storage call (a failed attempt starts the file over). */
export function downloadWithRetry(client: S3Client, bucket: string, key: string, destFile: string, retry: RetryOptions): Promise<void> {
  return retryStorage(() => downloadObject(client, bucket, key, destFile, retry.signal), `download of ${bucket}/${key}`, retry);
}

/** A storage call under the retry policy; a permanent failure says which call and why ("HTTP 403 AccessDenied"). */
async function retryStorage<T>(fn: () => Promise<T>, what: string, retry: RetryOptions | undefined): Promise<T> {
  try {
    return await withRetry(fn, { shouldRetry: isTransientS3Error, describe: describeS3Error, ...retry, what });
  } catch (err) {
    if (err instanceof OutageError || retry?.signal?.aborted) throw err;
    throw new Error(`${what} failed: ${describeS3Error(err)}`, { cause: err });
  }
}

/** Regular files under dir, recursively, as paths relative to dir (symlinks are skipped on purpose). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.push(relative(dir, full));
    }
  };
  await walk(dir);
  return out.sort();
}

export function outputKey(prefix: string, relPath: string): string {
  const rel = relPath.split(sep).join('/');
  return prefix === '' || prefix.endsWith('/') ? prefix + rel : `${prefix}/${rel}`;
}

interface PutTarget {
  bucket: string;
  key: string;
  file: string;
  size: number;
  signal?: AbortSignal | undefined;
}

async function putMultipart(client: S3Client, { bucket, key, file, size, signal }: PutTarget, partBytes: number): Promise<void> {
  const opts = { abortSignal: signal };
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), opts);
  if (!UploadId) throw new Error(`multipart upload of ${key} got no upload id`);
  try {
    const parts: { ETag: string | undefined; PartNumber: number }[] = [];
    for (let start = 0, n = 1; start < size; start += partBytes, n++) {
      const end = Math.min(size, start + partBytes);
      const body = createReadStream(file, { start, end: end - 1 });
      const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body, ContentLength: end - start }), opts);
      parts.push({ ETag: res.ETag, PartNumber: n });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }), opts);
  } catch (err) {
    // Best effort: during an outage this fails too, and the storage service drops abandoned uploads itself.
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw err;
  }
}

/** One file, one attempt: a single PUT, or a multipart upload from its first part. */
export async function uploadFile(
  client: S3Client,
  target: Omit<PutTarget, 'size'>,
  multipart: MultipartOptions = DEFAULT_MULTIPART,
): Promise<number> {
  const { size } = await stat(target.file);
  if (size > multipart.thresholdBytes) await putMultipart(client, { ...target, size }, multipart.partBytes);
  else {
    const put = new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: createReadStream(target.file), ContentLength: size });
    await client.send(put, { abortSignal: target.signal });
  }
  return size;
}

export interface UploadOptions {
  multipart?: MultipartOptions;
  /** Applied to each file: a transient failure retries that file only, files already sent stay sent. */
  retry?: RetryOptions;
  onFile?: (key: string, bytes: number) => void;
}

/** Uploads every file under outputDir to outputBucket/outputPrefix; returns files and bytes sent. */
export async function uploadOutputs(client: S3Client, grant: S3Grant, outputDir: string, opts: UploadOptions = {}): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const files = await listFiles(outputDir);
  for (const rel of files) {
    const key = outputKey(grant.outputPrefix, rel);
    const target = { bucket: grant.outputBucket, key, file: join(outputDir, rel), signal: opts.retry?.signal };
    const size = await retryStorage(() => uploadFile(client, target, opts.multipart), `upload of ${grant.outputBucket}/${key}`, opts.retry);
    bytes += size;
    opts.onFile?.(key, size);
  }
  return { files: files.length, bytes };
}

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

/** Files above this go up in parts: single PUTs top out at 5 GiB and a retry would resend everything. */
export const DEFAULT_MULTIPART = { thresholdBytes: 256 * 1024 * 1024, partBytes: 64 * 1024 * 1024 };
export type MultipartOptions = typeof DEFAULT_MULTIPART;

export function createS3Client(grant: S3Grant): S3Client {
  return new S3Client({
    endpoint: grant.endpoint,
    region: grant.region,
    forcePathStyle: true,
    credentials: { accessKeyId: grant.accessKeyId, secretAccessKey: grant.secretAccessKey },
    // The built-in endpoint and MinIO do not speak the SDK's newer default checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Streams the package object to destFile without holding it in memory. */
export async function downloadObject(client: S3Client, bucket: string, key: string, destFile: string, signal?: AbortSignal): Promise<void> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  if (!(res.Body instanceof Readable)) throw new Error(`download of ${bucket}/${key} returned no stream`);
  await pipeline(res.Body, createWriteStream(destFile), { signal });
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

async function putMultipart(client: S3Client, bucket: string, key: string, file: string, size: number, partBytes: number): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  if (!UploadId) throw new Error(`multipart upload of ${key} got no upload id`);
  try {
    const parts: { ETag: string | undefined; PartNumber: number }[] = [];
    for (let start = 0, n = 1; start < size; start += partBytes, n++) {
      const end = Math.min(size, start + partBytes);
      const body = createReadStream(file, { start, end: end - 1 });
      const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body, ContentLength: end - start }));
      parts.push({ ETag: res.ETag, PartNumber: n });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw err;
  }
}

export async function uploadFile(client: S3Client, bucket: string, key: string, file: string, multipart: MultipartOptions = DEFAULT_MULTIPART): Promise<number> {
  const { size } = await stat(file);
  if (size > multipart.thresholdBytes) await putMultipart(client, bucket, key, file, size, multipart.partBytes);
  else await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size }));
  return size;
}

/** Uploads every file under outputDir to outputBucket/outputPrefix; returns files and bytes sent. */
export async function uploadOutputs(
  client: S3Client,
  grant: S3Grant,
  outputDir: string,
  onFile?: (key: string, bytes: number) => void,
  multipart: MultipartOptions = DEFAULT_MULTIPART,
): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const files = await listFiles(outputDir);
  for (const rel of files) {
    const key = outputKey(grant.outputPrefix, rel);
    const size = await uploadFile(client, grant.outputBucket, key, join(outputDir, rel), multipart);
    bytes += size;
    onFile?.(key, size);
  }
  return { files: files.length, bytes };
}

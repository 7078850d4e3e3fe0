import { createHash } from 'node:crypto';
import type { Client } from 'minio';

/** S3 allows at most 10,000 parts per upload. */
const MAX_PARTS = 10_000;

export interface MinioUploadTarget {
  client: Client;
  bucket: string;
  key: string;
  contentType: string;
  /** Bytes buffered per part (memory per upload); grown for objects too large for 10,000 parts of it (partSizeFor). */
  partSize: number;
  contentLength?: number;
}

/**
 * Size of the next part, `partsSent` parts into the upload. A known length gets `partSize`, or the smallest
 * multiple of 1 MiB that fits 10,000 parts. An unknown length (the packager's zip stream) doubles its parts every
 * 1,000 parts: small uploads keep small parts, and 10,000 parts still reach S3's 5 TiB object limit (buffering
 * grows only with the upload: 8 MiB parts become 64 MiB ones past about 55 GiB).
 */
export function partSizeFor(partSize: number, contentLength: number | undefined, partsSent: number): number {
  if (contentLength === undefined) return partSize * 2 ** Math.floor(partsSent / 1000);
  if (contentLength <= partSize * MAX_PARTS) return partSize;
  const mib = 1024 * 1024;
  return Math.ceil(contentLength / MAX_PARTS / mib) * mib;
}

/**
 * Stores `chunks` as one object: a single PUT when it fits one part, else a multipart upload of our own, part by
 * part as the bytes arrive (one part in memory). `beforeCommit` runs once the chunks have ended and may throw;
 * nothing is visible under the key unless the chunks ended cleanly and it passed. On any failure the multipart
 * upload is aborted. Returns the server's ETag.
 *
 * Why not the client's putObject(stream): for a stream larger than one part it pipes the stream into its own
 * chunker, and pipe() forwards no error, so a body failing its checksum left the upload hanging forever; it also
 * resumes any open upload of the same key (ListMultipartUploads), mixing in parts of a concurrent writer.
 */
export async function uploadChunks(t: MinioUploadTarget, chunks: AsyncIterable<Buffer>, beforeCommit: () => void): Promise<string> {
  const headers = { 'Content-Type': t.contentType };
  const parts: Array<{ part: number; etag: string }> = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let uploadId: string | undefined;

  const sendPart = async (): Promise<void> => {
    const payload = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    uploadId ??= await t.client.initiateNewMultipartUpload(t.bucket, t.key, headers);
    const part = parts.length + 1;
    const md5 = createHash('md5').update(payload).digest('base64');
    const sent = await t.client.uploadPart({ bucketName: t.bucket, objectName: t.key, uploadID: uploadId, partNumber: part, headers: { 'Content-Length': payload.length, 'Content-MD5': md5 } }, payload);
    parts.push({ part, etag: sent.etag });
  };

  try {
    for await (const chunk of chunks) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= partSizeFor(t.partSize, t.contentLength, parts.length)) await sendPart();
    }
    beforeCommit();
    if (uploadId === undefined) {
      const payload = Buffer.concat(pending);
      return (await t.client.putObject(t.bucket, t.key, payload, payload.length, headers)).etag;
    }
    if (pendingBytes > 0) await sendPart();
    return (await t.client.completeMultipartUpload(t.bucket, t.key, uploadId, parts)).etag;
  } catch (e) {
    // Best effort: the original failure is what the caller must see; a server that cannot abort (s3rver) keeps the parts.
    if (uploadId !== undefined) await t.client.abortMultipartUpload(t.bucket, t.key, uploadId).catch(() => undefined);
    throw e;
  }
}

import { DomainError } from '@ct/job-domain';
import type { ListedObject, ListObjectsResult } from './storage-driver';

/** S3 orders keys by their UTF-8 bytes, which differs from JS string order for astral characters. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Continuation tokens are the last item returned (key or common prefix), opaque to clients. */
export function encodeContinuationToken(lastItem: string): string {
  return Buffer.from(lastItem, 'utf8').toString('base64url');
}

export function decodeContinuationToken(token: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) {
    throw new DomainError('validation_failed', 'The continuation token is invalid.', { s3Code: 'InvalidArgument' });
  }
  return Buffer.from(token, 'base64url').toString('utf8');
}

/**
 * Turns an ordered stream of objects into one ListObjectsV2 page: applies the delimiter roll-up,
 * skips everything at or before `after`, stops after maxKeys entries. Drivers feed it lazily.
 */
export async function paginate(
  objects: AsyncIterable<ListedObject>,
  opts: { prefix: string; delimiter?: string; maxKeys: number; after?: string },
): Promise<ListObjectsResult> {
  const contents: ListedObject[] = [];
  const commonPrefixes: string[] = [];
  if (opts.maxKeys <= 0) return { contents, commonPrefixes, isTruncated: false };
  let last: string | undefined;
  let count = 0;
  for await (const obj of objects) {
    if (!obj.key.startsWith(opts.prefix)) continue;
    let item = obj.key;
    let isPrefix = false;
    if (opts.delimiter) {
      const idx = obj.key.indexOf(opts.delimiter, opts.prefix.length);
      if (idx >= 0) {
        item = obj.key.slice(0, idx + opts.delimiter.length);
        isPrefix = true;
      }
    }
    if (opts.after !== undefined && compareKeys(item, opts.after) <= 0) continue;
    if (isPrefix && item === last) continue;
    if (count >= opts.maxKeys) {
      return { contents, commonPrefixes, isTruncated: true, nextContinuationToken: last === undefined ? undefined : encodeContinuationToken(last) };
    }
    if (isPrefix) commonPrefixes.push(item);
    else contents.push(obj);
    last = item;
    count++;
  }
  return { contents, commonPrefixes, isTruncated: false };
}

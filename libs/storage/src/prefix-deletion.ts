import { DomainError } from '@ct/job-domain';
import { MULTIPART_STAGING_BUCKET, MultipartUploads } from './multipart-uploads';
import type { DeletePrefixOptions, StorageDriver } from './storage-driver';

const PAGE_KEYS = 1000;

/**
 * StorageDriver.deletePrefix for any driver. Aborts the S3 endpoint's staged multipart uploads of keys under
 * the prefix first, so none completes into it afterwards; then takes the listing a page at a time and hands
 * each page's keys to `removeKeys` (which answers how many it removed), so a prefix of millions of objects
 * costs one page of memory.
 */
export async function deletePrefixByPages(
  driver: StorageDriver,
  bucket: string,
  prefix: string,
  removeKeys: (keys: string[]) => Promise<number>,
  opts: DeletePrefixOptions = {},
): Promise<number> {
  if (prefix === '') throw new DomainError('validation_failed', 'Refusing to delete every object of a bucket: the prefix is empty.');
  if (bucket !== MULTIPART_STAGING_BUCKET) await new MultipartUploads(driver).abortUnder(bucket, prefix);
  let removed = 0;
  let token: string | undefined;
  do {
    const page = await driver.listObjectsV2(bucket, { prefix, maxKeys: opts.pageKeys ?? PAGE_KEYS, continuationToken: token });
    if (page.contents.length > 0) removed += await removeKeys(page.contents.map((o) => o.key));
    token = page.isTruncated ? page.nextContinuationToken : undefined;
  } while (token);
  return removed;
}

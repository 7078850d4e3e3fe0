import { DomainError } from '@ct/job-domain';
import { isAllowed, narrowerListGrants } from './grants';
import type { S3Context } from './s3-handler';
import { sendXml } from './s3-response';
import { S3Error } from './s3-errors';
import { queryValue } from './s3-uri';
import { listObjectsV1Xml, listObjectsV2Xml } from './s3-xml';
import type { ListObjectsResult } from './storage-driver';

/** ListObjectsV2, and V1 (no list-type) for older clients, limited to what the grants allow. */
export async function handleList(ctx: S3Context, bucket: string): Promise<void> {
  const q = (n: string): string | undefined => queryValue(ctx.query, n);
  const prefix = q('prefix') ?? '';
  const delimiter = q('delimiter') || undefined;
  const maxKeysText = q('max-keys');
  if (maxKeysText !== undefined && !/^\d+$/.test(maxKeysText)) throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer.');
  const maxKeys = Math.min(maxKeysText === undefined ? 1000 : Number(maxKeysText), 1000);
  const v2 = q('list-type') === '2';
  const encodeUrl = q('encoding-type') === 'url';

  // A listing covered by one grant is served as is; a broader one (e.g. bucket root) is filtered to what may be seen.
  let filter: ((r: ListObjectsResult) => ListObjectsResult) | undefined;
  if (!isAllowed(ctx.grants, 'list', bucket, prefix)) {
    const narrower = narrowerListGrants(ctx.grants, bucket, prefix);
    if (narrower.length === 0) throw new DomainError('forbidden', 'Access Denied');
    filter = (r) => ({
      ...r,
      contents: r.contents.filter((o) => isAllowed(narrower, 'list', bucket, o.key)),
      commonPrefixes: r.commonPrefixes.filter((p) => narrower.some((g) => p.startsWith(g.prefix) || g.prefix.startsWith(p))),
    });
  }

  const continuationToken = v2 ? q('continuation-token') : undefined;
  const startAfter = v2 ? q('start-after') : q('marker');
  const raw = await ctx.deps.driver.listObjectsV2(bucket, { prefix, delimiter, maxKeys, continuationToken, startAfter });
  const result = filter ? filter(raw) : raw;
  const base = { bucket, prefix, delimiter, maxKeys, encodeUrl, result };
  if (v2) return sendXml(ctx.res, 200, listObjectsV2Xml({ ...base, continuationToken, startAfter }));
  // V1 pages are resumed with a marker: the last key or common prefix returned.
  const lastKey = raw.contents.at(-1)?.key;
  const lastPrefix = raw.commonPrefixes.at(-1);
  const nextMarker = result.isTruncated ? [lastKey, lastPrefix].filter((x): x is string => !!x).sort().at(-1) : undefined;
  return sendXml(ctx.res, 200, listObjectsV1Xml({ ...base, result: { ...result, nextContinuationToken: undefined }, marker: startAfter ?? '', nextMarker }));
}

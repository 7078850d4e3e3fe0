export type GrantAction = 'read' | 'write' | 'list';

/** Permission on every key of `bucket` starting with `prefix` ('' = whole bucket). */
export interface Grant {
  bucket: string;
  prefix: string;
  actions: GrantAction[];
}

/** True when one grant covers `action` on `keyOrPrefix` (an object key, or a listing prefix). */
export function isAllowed(grants: readonly Grant[], action: GrantAction, bucket: string, keyOrPrefix: string): boolean {
  return grants.some((g) => g.bucket === bucket && g.actions.includes(action) && keyOrPrefix.startsWith(g.prefix));
}

/**
 * Grants that could allow listing part of `prefix` even though none covers it whole
 * (e.g. listing a bucket root with a grant on `org1/`): the handler lists and filters.
 */
export function narrowerListGrants(grants: readonly Grant[], bucket: string, prefix: string): Grant[] {
  return grants.filter((g) => g.bucket === bucket && g.actions.includes('list') && g.prefix.startsWith(prefix));
}

/** Buckets on which the grants allow anything. */
export function grantedBuckets(grants: readonly Grant[]): Set<string> {
  return new Set(grants.filter((g) => g.actions.length > 0).map((g) => g.bucket));
}

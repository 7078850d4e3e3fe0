import { createHash } from 'node:crypto';
import type { ExcludedEntry } from './dataset-scanner';
import type { ExclusionCounts } from './exclusion-rules';
import type { PackagePlan } from './package-plan';

/** Excluded entries named per dataset in a preview; the counts cover all of them. */
export const PREVIEW_EXCLUDED_LISTED = 50;

/** What a user is shown before consenting to an upload, and what the consent is bound to (`digest`). */
export interface ConsentPreview {
  provider: string;
  /** sha256 of the provider and every file that would be uploaded (path, size, modification time). */
  digest: string;
  files: number;
  bytes: number;
  datasets: Array<{
    id: string;
    path: string;
    files: number;
    bytes: number;
    excluded: ExclusionCounts;
    excludedTotal: number;
    /** The first PREVIEW_EXCLUDED_LISTED entries left out, with the reason. */
    excludedFiles: ExcludedEntry[];
  }>;
}

/**
 * The digest a consent is bound to. Any added, removed, resized or rewritten file (its mtime moves), a
 * dataset moved to another folder, or another provider gives another digest, so a consent given for what
 * the user saw never covers something else.
 */
export function consentDigest(provider: string, plan: PackagePlan): string {
  const h = createHash('sha256');
  h.update(`ct-consent-v1\n${provider}\n`);
  for (const d of plan.datasets) {
    h.update(`dataset\t${d.id}\t${d.path}\n`);
    for (const f of d.scan.files) h.update(`${f.relPath}\t${f.size}\t${Math.trunc(f.mtimeMs)}\n`);
  }
  return h.digest('hex');
}

export function consentPreviewOf(provider: string, plan: PackagePlan): ConsentPreview {
  return {
    provider,
    digest: consentDigest(provider, plan),
    files: plan.files,
    bytes: plan.bytes,
    datasets: plan.datasets.map((d) => ({
      id: d.id,
      path: d.path,
      files: d.files,
      bytes: d.bytes,
      excluded: d.excluded,
      excludedTotal: Object.values(d.excluded).reduce((a, b) => a + b, 0),
      excludedFiles: d.scan.excludedEntries.slice(0, PREVIEW_EXCLUDED_LISTED),
    })),
  };
}

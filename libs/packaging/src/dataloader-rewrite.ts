import * as path from 'node:path';
import { DomainError } from '@ct/job-domain';

/** Where a packaged dataset sits in the archive (a subset of the packaging summary). */
export interface ArchivedDataset {
  readonly id: string;
  readonly archivePrefix: string;
}

const UNSAFE_ID_CHARS = /[^A-Za-z0-9._-]/g;
const MAX_ID_LENGTH = 100;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Makes an id safe as one archive path segment: only [A-Za-z0-9._-], no leading dot (that would
 * make `.`/`..` traversal or a hidden folder the trainer skips), never empty.
 */
export function sanitiseDatasetId(raw: string, fallback = 'dataset'): string {
  const cleaned = raw.replace(UNSAFE_ID_CHARS, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  const trimmed = cleaned.slice(0, MAX_ID_LENGTH);
  return trimmed === '' ? fallback : trimmed;
}

/** The dataset's id (`entry.id`, else `dataset-<index>`), sanitised for use in archive paths. */
export function datasetIdOf(entry: unknown, index: number): string {
  const fallback = `dataset-${index}`;
  const id = isRecord(entry) ? entry['id'] : undefined;
  if ((typeof id === 'string' && id.trim() !== '') || typeof id === 'number') {
    return sanitiseDatasetId(String(id), fallback);
  }
  return fallback;
}

/**
 * Datasets the packager must upload: `type: "local"` with an `instance_data_dir`. SimpleTuner
 * treats a missing or empty `type` as local too, so such entries are packaged the same way.
 */
export function isLocalDataset(entry: unknown): entry is Record<string, unknown> & { instance_data_dir: string } {
  if (!isRecord(entry)) return false;
  const type = entry['type'];
  const isLocalType = type === 'local' || type === undefined || type === null || type === '';
  return isLocalType && typeof entry['instance_data_dir'] === 'string';
}

/** The local datasets of a dataloader config, with the ids the packager and the rewrite agree on. */
export function localDatasetsOf(entries: readonly unknown[]): Array<{ id: string; dir: string; index: number }> {
  const datasets: Array<{ id: string; dir: string; index: number }> = [];
  entries.forEach((entry, index) => {
    if (isLocalDataset(entry)) datasets.push({ id: datasetIdOf(entry, index), dir: entry.instance_data_dir, index });
  });
  return datasets;
}

/**
 * A deep copy of the dataloader config in which every local dataset's `instance_data_dir` points
 * at its folder in the extracted archive: `path.posix.join(root, archivePrefix)` (root '' keeps the
 * path relative). Everything else is copied unchanged. A local dataset missing from `archived` is
 * an error: sending the user's own disk path to a remote trainer would fail later and leak it.
 */
export function rewriteDataloader<T>(entries: readonly T[], archived: readonly ArchivedDataset[], root: string): T[] {
  const prefixById = new Map(archived.map((dataset) => [dataset.id, dataset.archivePrefix]));
  const copy = structuredClone(entries) as T[];
  copy.forEach((entry, index) => {
    if (!isLocalDataset(entry)) return;
    const id = datasetIdOf(entry, index);
    const prefix = prefixById.get(id);
    if (prefix === undefined) {
      throw new DomainError('validation_failed', `Local dataset ${id} was not packaged, so its path cannot be rewritten.`, { datasetId: id });
    }
    entry.instance_data_dir = path.posix.join(root, prefix);
  });
  return copy;
}

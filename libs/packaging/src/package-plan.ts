import { DomainError } from '@ct/job-domain';
import { localDatasetsOf, sanitiseDatasetId } from './dataloader-rewrite';
import { assertDataloaderPaths } from './dataloader-paths';
import { resolveDatasetDir } from './dataset-root';
import { scanDataset, type DatasetScan } from './dataset-scanner';
import type { ExclusionCounts } from './exclusion-rules';

export interface DatasetInput {
  readonly id: string;
  /** Already checked with resolveDatasetDir; the scan resolves it again to read the real folder. */
  readonly dir: string;
}

/** What the user is shown before consenting, per dataset. */
export interface DatasetSummary {
  readonly id: string;
  readonly path: string;
  /** Folder of this dataset inside the archive, e.g. `datasets/my-set`. */
  readonly archivePrefix: string;
  readonly files: number;
  readonly bytes: number;
  readonly excluded: ExclusionCounts;
}

export interface PlannedDataset extends DatasetSummary {
  readonly scan: DatasetScan;
}

export interface PackagePlan {
  readonly datasets: PlannedDataset[];
  readonly files: number;
  readonly bytes: number;
}

export const ARCHIVE_DATASETS_DIR = 'datasets';

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

async function scanOrThrow(dataset: DatasetInput): Promise<DatasetScan> {
  try {
    return await scanDataset(dataset.dir);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DomainError('dataset_path_missing', `Dataset ${dataset.id}: folder ${dataset.dir} does not exist.`, { path: dataset.dir, datasetId: dataset.id });
    }
    throw new DomainError('dataset_path_unreadable', `Dataset ${dataset.id}: folder ${dataset.dir} cannot be read (${code ?? 'unknown error'}).`, { path: dataset.dir, datasetId: dataset.id });
  }
}

/** Scans every dataset and decides its archive folder; nothing is written. */
export async function planPackage(datasets: readonly DatasetInput[], signal?: AbortSignal): Promise<PackagePlan> {
  const planned: PlannedDataset[] = [];
  const prefixes = new Map<string, string>();
  for (const dataset of datasets) {
    signal?.throwIfAborted();
    const archivePrefix = `${ARCHIVE_DATASETS_DIR}/${sanitiseDatasetId(dataset.id)}`;
    const clash = prefixes.get(archivePrefix);
    if (clash !== undefined) {
      // Two datasets in one folder would silently merge (or overwrite) each other's files.
      throw new DomainError('validation_failed', `Datasets ${clash} and ${dataset.id} would share the archive folder ${archivePrefix}; give them distinct ids.`, { archivePrefix });
    }
    prefixes.set(archivePrefix, dataset.id);
    const scan = await scanOrThrow(dataset);
    planned.push({ id: dataset.id, path: scan.dir, archivePrefix, files: scan.files.length, bytes: scan.bytes, excluded: scan.excluded, scan });
  }
  return {
    datasets: planned,
    files: planned.reduce((sum, d) => sum + d.files, 0),
    bytes: planned.reduce((sum, d) => sum + d.bytes, 0),
  };
}

/** The plan without the file lists: what is stored with the job and shown to the user. */
export function summariesOf(plan: PackagePlan): DatasetSummary[] {
  return plan.datasets.map(({ scan: _scan, ...summary }) => summary);
}

/**
 * A dataloader's local datasets, checked against the organisation's roots and scanned: what the consent
 * preview shows and what the packager zips, by the same rules. Nothing is written.
 */
export async function planDataloader(dataloader: readonly unknown[], roots: readonly string[], signal?: AbortSignal): Promise<PackagePlan> {
  await assertDataloaderPaths(dataloader, roots);
  const resolved: DatasetInput[] = [];
  for (const d of localDatasetsOf(dataloader)) resolved.push({ id: d.id, dir: await resolveDatasetDir(d.dir, roots) });
  return planPackage(resolved, signal);
}

import { constants as fsConstants, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import archiver from 'archiver';
import { ArchiveSizeGuard, assertWithinLimit } from './archive-size-guard';
import { shouldStore } from './compression-policy';
import { useNativeCrcForStoredEntries } from './native-crc';
import { planPackage, summariesOf, type DatasetInput, type DatasetSummary, type PackagePlan } from './package-plan';

export interface PackageOptions {
  /** The provider's upload limit in bytes (capabilities.maxUploadBytes). Checked before writing and while writing. */
  readonly maxBytes?: number;
  /** Aborting stops packaging and destroys the sink (an upload stream then fails instead of completing). */
  readonly signal?: AbortSignal;
}

export interface PackageSummary {
  readonly datasets: DatasetSummary[];
  readonly files: number;
  readonly bytes: number;
  /** Bytes written to the sink, i.e. the zip's size. */
  readonly archiveBytes: number;
}

/**
 * archiver pipes every appended stream into a buffer at once, so files are appended only a few
 * ahead of the one being written: memory and open descriptors stay bounded for any file count.
 */
const APPEND_WINDOW = 4;
/** Larger reads than the 64 KiB default cut syscalls when streaming multi-MiB images. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Captions and JSON are small; level 6 is zlib's usual size/speed balance. */
const DEFLATE_LEVEL = 6;

/**
 * Hands files to archiver a few at a time (see APPEND_WINDOW) and remembers the open sources so a
 * failed or aborted package closes them instead of leaving descriptors to the garbage collector.
 */
class AppendWindow {
  private appended = 0;
  private processed = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly open = new Set<NodeJS.ReadableStream & { destroy(): void }>();

  constructor(private readonly archive: archiver.Archiver) {
    archive.on('entry', () => {
      this.processed++;
      this.wake?.();
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  closeOpenSources(): void {
    for (const source of this.open) source.destroy();
  }

  appendDirectory(name: string): void {
    this.archive.append(Buffer.alloc(0), { name: `${name}/`, date: new Date(0) });
    this.appended++;
  }

  async appendFile(absPath: string, data: archiver.ZipEntryData): Promise<void> {
    while (!this.stopped && this.appended - this.processed >= APPEND_WINDOW) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.stopped) return;
    // O_NOFOLLOW: absPath is a real path, so a symlink planted there since the scan is refused.
    const handle = await fs.open(absPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    const source = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    this.open.add(source);
    source.once('close', () => this.open.delete(source));
    this.archive.append(source, data);
    this.appended++;
  }
}

async function appendAll(window: AppendWindow, plan: PackagePlan): Promise<void> {
  for (const dataset of plan.datasets) {
    // An explicit folder entry, so the rewritten path exists after extraction even for an empty dataset.
    window.appendDirectory(dataset.archivePrefix);
    for (const file of dataset.scan.files) {
      if (window.isStopped) return;
      const name = `${dataset.archivePrefix}/${file.relPath}`;
      await window.appendFile(file.absPath, { name, store: shouldStore(file.relPath), date: new Date(file.mtimeMs), mode: 0o644 });
    }
  }
}

/** Writes an already scanned plan as one zip into `sink`; resolves when the sink has finished. */
export async function writePackage(plan: PackagePlan, sink: NodeJS.WritableStream, opts: PackageOptions = {}): Promise<PackageSummary> {
  opts.signal?.throwIfAborted();
  assertWithinLimit(plan.bytes, opts.maxBytes);
  const archive = archiver('zip', { zlib: { level: DEFLATE_LEVEL } });
  useNativeCrcForStoredEntries(archive);
  // A warning means a file changed or vanished after the scan: the summary the user agreed to would be wrong.
  archive.on('warning', (err: Error) => archive.destroy(err));
  const guard = new ArchiveSizeGuard(opts.maxBytes);
  const window = new AppendWindow(archive);
  const done = pipeline(archive, guard, sink, opts.signal ? { signal: opts.signal } : {}).finally(() => window.stop());
  // Awaited below; this handler only keeps an early failure from counting as unhandled meanwhile.
  done.catch(() => undefined);
  try {
    await appendAll(window, plan);
  } catch (err) {
    // A file that cannot be opened any more fails the package through the pipeline, like a read error.
    window.stop();
    archive.destroy(err instanceof Error ? err : new Error(String(err)));
  }
  if (window.isStopped) archive.abort();
  // finalize's outcome is also the pipeline's, which is what the caller sees.
  else archive.finalize().catch(() => undefined);
  try {
    await done;
  } finally {
    window.closeOpenSources();
  }
  return { datasets: summariesOf(plan), files: plan.files, bytes: plan.bytes, archiveBytes: guard.bytesWritten };
}

/**
 * Scans the datasets, enforces `maxBytes` on their total before writing anything, then streams
 * one zip (`datasets/<id>/<relPath>`) into `sink`. Already-compressed files are STORED.
 */
export async function packageDatasets(
  datasets: readonly DatasetInput[],
  sink: NodeJS.WritableStream,
  opts: PackageOptions = {},
): Promise<PackageSummary> {
  const plan = await planPackage(datasets, opts.signal);
  return writePackage(plan, sink, opts);
}

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';

/** The archive is hostile or broken; the job fails with this message and nothing was written. */
export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

export interface ExtractLimits {
  maxEntries: number;
  maxTotalBytes: number;
}

const DEFAULT_LIMITS: ExtractLimits = { maxEntries: 1_000_000, maxTotalBytes: 1024 ** 4 };
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((res, rej) => {
    // validateEntrySizes: a lying size header (zip bomb trick) fails the stream instead of filling the disk.
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, zip) =>
      err || !zip ? rej(new UnsafeArchiveError(`cannot open dataset archive: ${err?.message ?? 'unknown error'}`)) : res(zip),
    );
  });
}

/** Reads the whole central directory first so a bad entry anywhere refuses the archive before any write. */
function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((res, rej) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => res(entries));
    zip.once('error', (err: Error) => rej(new UnsafeArchiveError(`refusing dataset archive: ${err.message}`)));
    zip.readEntry();
  });
}

/** Where the entry would land, or an error message saying why it must not be written. */
export function entryTarget(destDir: string, entry: Pick<yauzl.Entry, 'fileName' | 'externalFileAttributes' | 'versionMadeBy'>): string {
  const name = entry.fileName;
  const fromUnix = entry.versionMadeBy >> 8 === 3;
  if (fromUnix && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) {
    throw new UnsafeArchiveError(`refusing dataset archive: entry ${JSON.stringify(name)} is a symbolic link`);
  }
  if (isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.startsWith('\\')) {
    throw new UnsafeArchiveError(`refusing dataset archive: entry ${JSON.stringify(name)} has an absolute path`);
  }
  const root = resolve(destDir);
  const target = resolve(root, name);
  if (name.includes('\0') || (target !== root && !target.startsWith(root + sep))) {
    throw new UnsafeArchiveError(`refusing dataset archive: entry ${JSON.stringify(name)} escapes the data directory`);
  }
  return target;
}

function checkAll(destDir: string, entries: yauzl.Entry[], limits: ExtractLimits): string[] {
  if (entries.length > limits.maxEntries) {
    throw new UnsafeArchiveError(`refusing dataset archive: ${entries.length} entries exceed the limit of ${limits.maxEntries}`);
  }
  const total = entries.reduce((sum, e) => sum + e.uncompressedSize, 0);
  if (total > limits.maxTotalBytes) {
    throw new UnsafeArchiveError(`refusing dataset archive: ${total} bytes uncompressed exceed the limit of ${limits.maxTotalBytes}`);
  }
  return entries.map((e) => entryTarget(destDir, e));
}

function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((res, rej) => zip.openReadStream(entry, (err, stream) => (err ? rej(err) : res(stream))));
}

/** Extracts zipPath into destDir, refusing absolute names, '..' escapes and symlinks. Returns file count and bytes. */
export async function extractZipSafely(zipPath: string, destDir: string, limits: ExtractLimits = DEFAULT_LIMITS): Promise<{ files: number; bytes: number }> {
  const zip = await openZip(zipPath);
  try {
    const entries = await readEntries(zip);
    const targets = checkAll(destDir, entries, limits);
    let files = 0;
    let bytes = 0;
    for (const [i, entry] of entries.entries()) {
      const target = targets[i]!;
      if (entry.fileName.endsWith('/')) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      // 'wx': never follow or overwrite something already there (a duplicate entry name, say).
      await pipeline(await openStream(zip, entry), createWriteStream(target, { flags: 'wx', mode: 0o644 }));
      files += 1;
      bytes += entry.uncompressedSize;
    }
    return { files, bytes };
  } finally {
    zip.close();
  }
}

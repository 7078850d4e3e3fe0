import { opendir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Removes the files directly in `dir` last modified before `cutoffMs` (epoch ms), except those `keep` names;
 * returns how many were removed. The directory is read as a stream, so a huge backlog costs no memory; a file
 * that vanishes meanwhile (its upload finished) is skipped. A missing directory holds nothing to remove.
 */
export async function removeFilesOlderThan(dir: string, cutoffMs: number, keep: (path: string) => boolean): Promise<number> {
  let entries;
  try {
    entries = await opendir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let removed = 0;
  for await (const entry of entries) {
    const path = join(dir, entry.name);
    if (!entry.isFile() || keep(path)) continue;
    const st = await stat(path).catch(() => undefined);
    if (!st || st.mtimeMs >= cutoffMs) continue;
    await unlink(path).then(() => removed++, () => undefined);
  }
  return removed;
}

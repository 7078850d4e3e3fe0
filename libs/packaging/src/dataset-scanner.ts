import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { isInside } from './dataset-root';
import {
  emptyExclusionCounts,
  exclusionReason,
  nameExclusionReason,
  VIRTUALENV_MARKER,
  type ExclusionCounts,
  type ExclusionReason,
} from './exclusion-rules';

export interface ScannedFile {
  /** Real path read when packaging (a followed symlink's target, never the link itself). */
  readonly absPath: string;
  /** Path inside the dataset as the trainer will see it, `/`-separated. */
  readonly relPath: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface DatasetScan {
  /** Real path of the dataset folder. */
  readonly dir: string;
  /** Sorted by relPath (code-unit order), so two scans of the same tree list files identically. */
  readonly files: ScannedFile[];
  readonly bytes: number;
  /** Each excluded directory counts once; its contents are never listed. */
  readonly excluded: ExclusionCounts;
  /** The first EXCLUDED_LISTED entries left out, by path inside the dataset (a folder stands for its contents). */
  readonly excludedEntries: ExcludedEntry[];
}

export interface ExcludedEntry {
  readonly path: string;
  readonly reason: ExclusionReason;
}

/** How many excluded entries a scan names; the counts cover the rest. */
export const EXCLUDED_LISTED = 200;

interface PendingDir {
  readonly abs: string;
  readonly rel: string;
  /** Real paths from the dataset root down to this folder: a link back into one of them is a cycle. */
  readonly ancestors: readonly string[];
}

type Outcome =
  | { kind: 'file'; file: ScannedFile }
  | { kind: 'dir'; dir: PendingDir }
  | { kind: 'excluded'; reason: ExclusionReason };

/** stat calls run this many at a time per folder: enough to hide latency, few enough to spare the fd table. */
const STAT_CONCURRENCY = 32;

function excluded(reason: ExclusionReason): Outcome {
  return { kind: 'excluded', reason };
}

function classifyStats(name: string, stats: Stats, abs: string, rel: string, parent: PendingDir): Outcome {
  const isDirectory = stats.isDirectory();
  const reason = nameExclusionReason(name, isDirectory);
  if (reason) return excluded(reason);
  if (isDirectory) {
    if (parent.ancestors.includes(abs)) return excluded('symlink_cycle');
    return { kind: 'dir', dir: { abs, rel, ancestors: [...parent.ancestors, abs] } };
  }
  if (!stats.isFile()) return excluded('special_file');
  return { kind: 'file', file: { absPath: abs, relPath: rel, size: stats.size, mtimeMs: stats.mtimeMs } };
}

/**
 * A link is followed only when its target stays inside the dataset; the target's own location is
 * checked against the rules too, so `a.jpg -> ../.env` does not smuggle the .env file in.
 */
async function classifyLink(root: string, name: string, abs: string, rel: string, parent: PendingDir): Promise<Outcome> {
  let real: string;
  let stats: Stats;
  try {
    real = await fs.realpath(abs);
    stats = await fs.stat(real);
  } catch {
    return excluded('unreadable');
  }
  if (!isInside(root, real)) return excluded('symlink_outside');
  const targetRel = path.relative(root, real).split(path.sep).join('/');
  const targetReason = exclusionReason(targetRel, stats.isDirectory());
  if (targetReason) return excluded(targetReason);
  return classifyStats(name, stats, real, rel, parent);
}

async function classifyEntry(root: string, parent: PendingDir, name: string): Promise<Outcome> {
  const abs = path.join(parent.abs, name);
  const rel = parent.rel === '' ? name : `${parent.rel}/${name}`;
  let stats: Stats;
  try {
    stats = await fs.lstat(abs);
  } catch {
    return excluded('unreadable');
  }
  if (stats.isSymbolicLink()) return classifyLink(root, name, abs, rel, parent);
  return classifyStats(name, stats, abs, rel, parent);
}

async function classifyAll(root: string, parent: PendingDir, names: readonly string[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < names.length; i += STAT_CONCURRENCY) {
    const chunk = names.slice(i, i + STAT_CONCURRENCY);
    outcomes.push(...(await Promise.all(chunk.map((name) => classifyEntry(root, parent, name)))));
  }
  return outcomes;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lists the files of a dataset folder that may be packaged. Iterative (an explicit stack, so deep
 * trees cannot overflow the call stack); excluded folders are counted once and never entered.
 */
export async function scanDataset(dir: string): Promise<DatasetScan> {
  const root = await fs.realpath(dir);
  const files: ScannedFile[] = [];
  const counts = emptyExclusionCounts();
  const listed: ExcludedEntry[] = [];
  const exclude = (rel: string, reason: ExclusionReason) => {
    counts[reason]++;
    if (listed.length < EXCLUDED_LISTED) listed.push({ path: rel === '' ? '.' : rel, reason });
  };
  const stack: PendingDir[] = [{ abs: root, rel: '', ancestors: [root] }];
  while (stack.length > 0) {
    const current = stack.pop() as PendingDir;
    let names: string[];
    try {
      names = (await fs.readdir(current.abs)).sort(byCodeUnit);
    } catch {
      exclude(current.rel, 'unreadable');
      continue;
    }
    // Virtualenvs can have any name (`env`, `py311`); the marker file gives them away.
    if (names.includes(VIRTUALENV_MARKER)) {
      exclude(current.rel, 'virtualenv');
      continue;
    }
    const subdirs: PendingDir[] = [];
    for (const [i, outcome] of (await classifyAll(root, current, names)).entries()) {
      if (outcome.kind === 'file') files.push(outcome.file);
      else if (outcome.kind === 'dir') subdirs.push(outcome.dir);
      else exclude(current.rel === '' ? (names[i] as string) : `${current.rel}/${names[i] as string}`, outcome.reason);
    }
    stack.push(...subdirs.reverse());
  }
  files.sort((a, b) => byCodeUnit(a.relPath, b.relPath));
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  return { dir: root, files, bytes, excluded: counts, excludedEntries: listed };
}

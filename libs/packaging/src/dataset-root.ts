import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DomainError } from '@ct/job-domain';
import { exclusionReason } from './exclusion-rules';

/**
 * Folders the packager never reads, even when an operator configures a root that contains them
 * (e.g. DATASET_ROOTS=/). The macOS `/private/...` forms are what realpath returns there.
 */
export const SYSTEM_DIRECTORIES: readonly string[] = [
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/boot',
  '/run',
  '/var/run',
  '/private/etc',
  '/private/var/run',
];

/** True when `child` is `parent` or lies below it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** `/` itself and anything inside a system directory. */
export function isSystemPath(absPath: string): boolean {
  const normalised = path.resolve(absPath);
  if (normalised === path.parse(normalised).root) return true;
  return SYSTEM_DIRECTORIES.some((dir) => isInside(dir, normalised));
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const root of roots) {
    // A configured root that does not exist simply allows nothing; it must not fail every job.
    const real = await fs.realpath(path.resolve(root)).catch(() => null);
    if (real !== null) resolved.push(real);
  }
  return resolved;
}

function outsideRoots(input: string, roots: readonly string[], why: string): DomainError {
  const list = roots.length > 0 ? roots.join(', ') : 'none for your organisation';
  return new DomainError(
    'dataset_path_outside_roots',
    `Dataset folder ${input} ${why}. Allowed dataset roots: ${list}. Move the dataset under one of them, or ask the operator to add its folder (DATASET_ROOTS for the default organisation, ORG_DATASET_ROOTS for the others).`,
    { path: input, roots: [...roots] },
  );
}

function systemDirectory(input: string): DomainError {
  return new DomainError(
    'dataset_path_outside_roots',
    `Dataset folder ${input} is a system directory (${SYSTEM_DIRECTORIES.join(', ')} or /), which is never packaged.`,
    { path: input, reason: 'system_directory' },
  );
}

async function realpathOrThrow(input: string, lexical: string, roots: readonly string[], realRootList: readonly string[]): Promise<string> {
  try {
    return await fs.realpath(lexical);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // Answering "missing" for a path outside the roots would let a caller probe the disk.
      const candidates = [...roots.map((root) => path.resolve(root)), ...realRootList];
      if (!candidates.some((root) => isInside(root, lexical))) throw outsideRoots(input, roots, 'is not inside an allowed dataset root');
      throw new DomainError('dataset_path_missing', `Dataset folder ${input} does not exist.`, { path: input });
    }
    throw new DomainError('dataset_path_unreadable', `Dataset folder ${input} cannot be read (${code ?? 'unknown error'}).`, { path: input, errno: code });
  }
}

/** The name rules apply to the dataset folder's own location too: `<root>/project/.git` is never a dataset. */
function assertNotExcludedLocation(input: string, real: string, root: string): void {
  const reason = exclusionReason(path.relative(root, real).split(path.sep).join('/'), true);
  if (reason) {
    throw new DomainError(
      'dataset_path_outside_roots',
      `Dataset folder ${input} lies in a location that is never packaged (${reason}). Move the dataset to an ordinary folder.`,
      { path: input, reason },
    );
  }
}

async function assertReadableDirectory(input: string, real: string): Promise<void> {
  try {
    const stat = await fs.stat(real);
    if (!stat.isDirectory()) {
      throw new DomainError('dataset_path_unreadable', `Dataset path ${input} is not a folder.`, { path: input });
    }
    // Opening the directory is the only check that also holds for root, who passes access().
    const handle = await fs.opendir(real);
    await handle.close();
  } catch (err) {
    if (err instanceof DomainError) throw err;
    const code = errnoOf(err);
    throw new DomainError('dataset_path_unreadable', `Dataset folder ${input} cannot be read (${code ?? 'unknown error'}).`, { path: input, errno: code });
  }
}

/**
 * Resolves a dataset folder to its real path and checks that packaging it is allowed:
 * inside one of `roots` (after resolving symlinks on both sides), not a system directory,
 * not itself in an excluded location, and a readable directory.
 */
export async function resolveDatasetDir(input: string, roots: readonly string[]): Promise<string> {
  const lexical = path.resolve(input);
  // Checked before any file-system call so that e.g. /proc is not even stat'ed.
  if (isSystemPath(lexical)) throw systemDirectory(input);
  const allowedRoots = await realRoots(roots);
  const real = await realpathOrThrow(input, lexical, roots, allowedRoots);
  if (isSystemPath(real)) throw systemDirectory(input);
  const root = allowedRoots.find((candidate) => isInside(candidate, real));
  if (root === undefined) throw outsideRoots(input, roots, 'is not inside an allowed dataset root');
  assertNotExcludedLocation(input, real, root);
  await assertReadableDirectory(input, real);
  return real;
}

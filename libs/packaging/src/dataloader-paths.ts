import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DomainError } from '@ct/job-domain';
import { isLocalDataset } from './dataloader-rewrite';
import { isInside, isSystemPath } from './dataset-root';

/** Keys whose values are file-system locations in SimpleTuner's dataloader config (cache_dir_vae, csv_file, …). */
const PATH_KEY = /(dir|path|file|folder|cache)/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
const MAX_DEPTH = 10;

function isAbsoluteLike(v: string): boolean {
  return v.startsWith('/') || v.startsWith('~') || v.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(v);
}

function climbs(v: string): boolean {
  return v.split(/[\\/]+/).includes('..');
}

interface Finding {
  entry: number;
  key: string;
  value: string;
  absolute: boolean;
}

function collect(value: unknown, key: string, entry: number, depth: number, out: Finding[]): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    if (URL_LIKE.test(value)) return;
    if (isAbsoluteLike(value)) out.push({ entry, key, value, absolute: true });
    else if (PATH_KEY.test(key) && climbs(value)) out.push({ entry, key, value, absolute: false });
    return;
  }
  if (Array.isArray(value)) return value.forEach((v, i) => collect(v, `${key}[${i}]`, entry, depth + 1, out));
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, key ? `${key}.${k}` : k, entry, depth + 1, out);
}

/**
 * Every path a dataloader entry names, whatever its `type`, must stay out of places a trainer has no
 * business reading: a local dataset's `instance_data_dir` is packaged and rewritten into the archive
 * (checked by resolveDatasetDir); any other absolute path must lie inside the organisation's dataset roots
 * (so `type: "Local"` with `/root` is refused, not passed on), and no path may climb with `..`. Relative
 * paths are resolved inside the job's workspace on the worker.
 */
export async function assertDataloaderPaths(entries: readonly unknown[], roots: readonly string[]): Promise<void> {
  const findings: Finding[] = [];
  entries.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return;
    const { instance_data_dir: dir, ...rest } = entry as Record<string, unknown>;
    // A packaged dataset's folder is checked (and rewritten) by the packager's own rules.
    collect(isLocalDataset(entry) ? rest : { instance_data_dir: dir, ...rest }, '', i, 0, findings);
  });
  for (const f of findings) {
    const where = `Dataset ${f.entry + 1} (${datasetName(entries[f.entry], f.entry)}): ${f.key} = ${JSON.stringify(f.value)}`;
    if (!f.absolute) throw invalid(`${where} climbs out of the job's workspace with "..". Use a path inside it.`, f);
    if (!(await insideRoots(f.value, roots))) {
      const local = f.key === 'instance_data_dir' ? ' Only datasets of type "local" are packaged and uploaded.' : '';
      throw invalid(`${where} is outside your dataset roots; a trainer may only be given paths inside them, or relative paths (inside the job's workspace).${local}`, f);
    }
  }
}

/** The path (or, while it does not exist yet, its nearest existing parent) resolved through symlinks lies inside a root. */
async function insideRoots(p: string, roots: readonly string[]): Promise<boolean> {
  if (p.startsWith('~') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\')) return false;
  let probe = path.resolve(p);
  if (isSystemPath(probe)) return false;
  let real: string | null = null;
  for (let i = 0; i < 64 && real === null; i++) {
    real = await fs.realpath(probe).catch(() => null);
    if (real === null) {
      const parent = path.dirname(probe);
      if (parent === probe) return false;
      probe = parent;
    }
  }
  if (real === null || isSystemPath(real)) return false;
  const realRoots = await Promise.all(roots.map((r) => fs.realpath(path.resolve(r)).catch(() => null)));
  return realRoots.some((r) => r !== null && isInside(r, real));
}

function datasetName(entry: unknown, index: number): string {
  const id = (entry as Record<string, unknown> | null)?.['id'];
  return typeof id === 'string' && id ? id : `#${index + 1}`;
}

function invalid(message: string, f: Finding): DomainError {
  return new DomainError('dataset_path_invalid', message, { entry: f.entry, key: f.key, path: path.normalize(f.value) });
}

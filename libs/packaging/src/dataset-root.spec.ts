import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DomainError } from '@ct/job-domain';
import { isSystemPath, resolveDatasetDir } from './dataset-root';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err.code;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('resolveDatasetDir', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ct-root-')));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    mkdirSync(path.join(root, 'ds', 'img'), { recursive: true });
    mkdirSync(path.join(root, 'project', '.git', 'ds'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(root, 'file.txt'), 'x');
    symlinkSync(outside, path.join(root, 'escape'));
    symlinkSync(path.join(root, 'ds'), path.join(base, 'alias'));
  });

  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('returns the real path of a folder inside a root', async () => {
    await expect(resolveDatasetDir(path.join(root, 'ds'), [root])).resolves.toBe(path.join(root, 'ds'));
  });

  it('resolves symlinks on both sides: a link from outside into the root is allowed', async () => {
    await expect(resolveDatasetDir(path.join(base, 'alias'), [root])).resolves.toBe(path.join(root, 'ds'));
  });

  it('refuses a folder outside every root, naming the path and the roots', async () => {
    const err = await resolveDatasetDir(outside, [root]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('dataset_path_outside_roots');
    expect((err as DomainError).message).toContain(outside);
    expect((err as DomainError).message).toContain(root);
  });

  it('refuses a symlink inside the root that leads outside it', async () => {
    expect(await codeOf(resolveDatasetDir(path.join(root, 'escape'), [root]))).toBe('dataset_path_outside_roots');
  });

  it('reports a missing folder inside a root as missing, naming it', async () => {
    const missing = path.join(root, 'nope');
    const err = await resolveDatasetDir(missing, [root]).catch((e: unknown) => e);
    expect((err as DomainError).code).toBe('dataset_path_missing');
    expect((err as DomainError).message).toContain(missing);
  });

  it('does not reveal whether a path outside the roots exists', async () => {
    expect(await codeOf(resolveDatasetDir(path.join(outside, 'nope'), [root]))).toBe('dataset_path_outside_roots');
  });

  it('refuses a file as unreadable', async () => {
    expect(await codeOf(resolveDatasetDir(path.join(root, 'file.txt'), [root]))).toBe('dataset_path_unreadable');
  });

  it('refuses a dataset that itself lies in an excluded folder such as .git', async () => {
    expect(await codeOf(resolveDatasetDir(path.join(root, 'project', '.git', 'ds'), [root]))).toBe('dataset_path_outside_roots');
  });

  it('never reads system directories, even when a root contains them', async () => {
    for (const dir of ['/', '/etc', '/proc/self', '/sys', '/dev', '/boot', '/run', '/var/run']) {
      expect(await codeOf(resolveDatasetDir(dir, ['/']))).toBe('dataset_path_outside_roots');
    }
  });

  it('refuses everything when no roots are configured', async () => {
    expect(await codeOf(resolveDatasetDir(path.join(root, 'ds'), []))).toBe('dataset_path_outside_roots');
  });

  it('classifies system paths', () => {
    expect(isSystemPath('/')).toBe(true);
    expect(isSystemPath('/etc/ssl')).toBe(true);
    expect(isSystemPath('/etcetera')).toBe(false);
    expect(isSystemPath('/data/ds')).toBe(false);
  });
});

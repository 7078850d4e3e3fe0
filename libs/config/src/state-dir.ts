import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The embedded default's state root: `~/.simpletuner` unless SIMPLETUNER_STATE_DIR moves it. */
export function stateDir(env: { SIMPLETUNER_STATE_DIR?: string | undefined }): string {
  return env.SIMPLETUNER_STATE_DIR ?? join(homedir(), '.simpletuner');
}

export function cloudDir(env: { SIMPLETUNER_STATE_DIR?: string | undefined }): string {
  return join(stateDir(env), 'cloud');
}

export function outputsDir(env: { SIMPLETUNER_STATE_DIR?: string | undefined }): string {
  return join(stateDir(env), 'cloud_outputs');
}

/** Writes a secret file readable by its owner only. */
export function writeSecretFile(path: string, content: string): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * The master key that per-job S3 secrets are derived from. Team deployments set STORAGE_MASTER_KEY;
 * the embedded default keeps one in the state dir, created once with mode 0600 (first writer wins).
 */
export function storageMasterKey(env: { STORAGE_MASTER_KEY?: string | undefined; SIMPLETUNER_STATE_DIR?: string | undefined }): string {
  if (env.STORAGE_MASTER_KEY) return env.STORAGE_MASTER_KEY;
  const path = join(cloudDir(env), 'storage-master.key');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    mkdirSync(cloudDir(env), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return readFileSync(path, 'utf8').trim();
  }
}

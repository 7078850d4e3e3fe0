import { cloudDir, writeSecretFile, type GatewayEnv } from '@ct/config';
import type { OrgRepository } from '@ct/persistence';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * First start: the default organisation and its admin key. The key goes to a 0600 file in the state dir
 * (never to the log); the log says where it is.
 */
export async function bootstrapAdmin(env: GatewayEnv, orgs: OrgRepository, log: (msg: string) => void): Promise<string> {
  const path = join(cloudDir(env), 'admin-api-key');
  const created = await orgs.bootstrapDefault();
  if (created) {
    writeSecretFile(path, `${created.token}\n`);
    log(`created the default organisation; its admin API key is in ${path} (mode 0600)`);
  } else if (existsSync(path)) {
    log(`admin API key: ${path}`);
  }
  return path;
}

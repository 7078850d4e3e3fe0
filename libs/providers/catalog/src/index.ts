import { environment } from '@ct/config';
import { ProviderSettingsRepository, SecretBox, type PrismaClient } from '@ct/persistence';
import { comingSoon, ProviderRegistry, type ProviderCallHook, type ProviderDefinition, type ProviderLogger, type RegistryDeps } from '@ct/providers-core';
import { replicateProvider } from '@ct/providers-replicate';
import { localProvider, workerProvider } from '@ct/providers-self-hosted';

/**
 * Every provider of the deployment. Adding a provider: one library under libs/providers exporting its
 * ProviderDefinition, and one line here; no service names a provider.
 */
export const PROVIDERS: readonly ProviderDefinition[] = [
  localProvider,
  workerProvider,
  replicateProvider,
  comingSoon('simpletuner.io', 'SimpleTuner.io'),
];

export interface CatalogDeps {
  prisma: PrismaClient;
  /** The deployment's master key: provider secrets are sealed under a key derived from it. */
  masterKey: string;
  publicUrl?: string | undefined;
  logger: ProviderLogger;
  onCall?: ProviderCallHook;
  openPackage?: RegistryDeps['openPackage'];
}

/** The registry every service resolves providers from, over the organisations' stored settings. */
export function createProviderRegistry(deps: CatalogDeps): ProviderRegistry {
  return new ProviderRegistry(PROVIDERS, {
    settings: new ProviderSettingsRepository(deps.prisma, new SecretBox(deps.masterKey)),
    environment: environment(),
    publicUrl: deps.publicUrl ?? null,
    logger: deps.logger,
    onCall: deps.onCall,
    openPackage: deps.openPackage,
  });
}

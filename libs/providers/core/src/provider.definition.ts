import { z } from 'zod';
import type { PackageRef, ProviderCapabilities, ProviderPlugin } from './provider.plugin';

/** pino's shape, reduced to what plugins call. */
export interface ProviderLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
}

/** What a plugin is built from for one organisation. */
export interface ProviderContext<S, E> {
  orgId: string;
  /** The organisation's settings, validated by the definition's schema (defaults applied). */
  settings: S;
  /** The organisation's stored secret, else the environment's; null when neither is set. */
  secret: string | null;
  /** The provider's own environment variables, validated once at boot. */
  env: E;
  /** PUBLIC_URL (how the outside reaches this deployment), or null. */
  publicUrl: string | null;
  /** `<PUBLIC_URL>/api/webhooks/<provider>?job=<id>`, or null without a public URL. */
  webhookUrl(jobId: string): string | null;
  /** Opens a packaged archive in our storage (only the dispatcher can). */
  openPackage(ref: PackageRef): Promise<NodeJS.ReadableStream>;
  logger: ProviderLogger;
}

/**
 * One provider, as registered in the catalog (libs/providers/catalog): everything the services need to
 * list it, configure it per organisation and build its plugin. Adding a provider = one library exporting
 * a definition + one line in the catalog.
 */
export interface ProviderDefinition<S extends Record<string, unknown> = Record<string, unknown>, E = unknown> {
  readonly name: string;
  readonly label: string;
  /** Listed but not usable yet (submissions are refused with `provider_unavailable`). */
  readonly comingSoon?: boolean;
  readonly capabilities: ProviderCapabilities;
  /** What an organisation may set (`PUT /api/cloud/providers/<name>/config`); defaults fill the rest. */
  readonly settingsSchema: z.ZodType<S>;
  /** A secret the organisation may store (write-only, sealed), with its environment fallback. */
  readonly secret?: { label: string; envVar?: string };
  /** This provider's environment variables. */
  readonly envSchema?: z.ZodType<E>;
  create(ctx: ProviderContext<S, E>): ProviderPlugin;
}

const COMING_SOON_CAPABILITIES: ProviderCapabilities = {
  costTracking: false, liveLogs: false, webhooks: false, maxUploadBytes: null,
  uploadsPackage: false, workerClaimed: false, polled: false, dataLeavesInfrastructure: true,
};

/** A provider that is listed as coming soon and nothing else: every use is refused before it reaches it. */
export function comingSoon(name: string, label: string): ProviderDefinition {
  const unavailable = async (): Promise<never> => {
    throw new Error(`${label} is not available yet`);
  };
  return {
    name,
    label,
    comingSoon: true,
    capabilities: COMING_SOON_CAPABILITIES,
    settingsSchema: z.object({}).strict(),
    create: () => ({
      name,
      capabilities: COMING_SOON_CAPABILITIES,
      validateCredentials: async () => ({ ok: false, error: `${label} is coming soon` }),
      listJobs: async () => [],
      runJob: unavailable,
      cancelJob: async () => undefined,
      getJobStatus: async () => null,
      getJobLogs: async () => [],
      prepare: unavailable,
      hardware: () => [],
      costBasis: () => ({ hardwareProfile: null, gpuCount: null, microsPerHour: 0n, defaults: null }),
    }),
  };
}

/**
 * A definition with its own settings and environment types, as the registry holds it. The registry parses
 * settings with `settingsSchema` and the environment with `envSchema` before every `create`, which is what
 * makes widening the types here sound.
 */
export function defineProvider<S extends Record<string, unknown>, E>(definition: ProviderDefinition<S, E>): ProviderDefinition {
  return definition as unknown as ProviderDefinition;
}

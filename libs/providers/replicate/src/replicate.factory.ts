import { z } from 'zod';
import type { PrismaClient, ProviderSettingsRepository } from '@ct/persistence';
import type { PackageRef } from '@ct/providers-core';
import type { PriceOverrides } from './hardware-profiles';
import { ReplicatePlugin } from './replicate.plugin';
import type { ReplicateAttempt, ReplicateLogger } from './replicate.types';

/** What an organisation can set for Replicate (`PUT /api/cloud/providers/replicate/config`); the token is separate. */
export const replicateSettingsSchema = z
  .object({
    version_override: z.string().min(1).max(200).nullable().default(null),
    default_profile: z.string().min(1).max(20).default('h100'),
    webhooks_enabled: z.boolean().default(true),
    /** Dollars per hour per base GPU (`h100`, `l40s`) or exact profile (`l40s-x4`). */
    price_overrides: z.record(z.string().max(20), z.number().positive().max(10_000)).default({}),
  })
  .strict();
export type ReplicateSettings = z.infer<typeof replicateSettingsSchema>;

export interface ReplicateEnv {
  REPLICATE_API_TOKEN?: string | undefined;
  REPLICATE_API_BASE_URL: string;
  PUBLIC_URL?: string | undefined;
}

export function priceOverridesOf(s: ReplicateSettings): PriceOverrides {
  return Object.fromEntries(Object.entries(s.price_overrides).map(([k, dollars]) => [k, BigInt(Math.round(dollars * 1_000_000))]));
}

export async function replicateSettingsOf(settings: ProviderSettingsRepository, orgId: string): Promise<ReplicateSettings> {
  return replicateSettingsSchema.parse((await settings.get(orgId, 'replicate')).settings);
}

/** The token: the organisation's stored one wins over the environment's. Never logged, never returned. */
export async function replicateTokenOf(env: ReplicateEnv, settings: ProviderSettingsRepository, orgId: string): Promise<{ token: string | null; source: 'organisation' | 'environment' | null }> {
  const stored = await settings.secret(orgId, 'replicate');
  if (stored) return { token: stored, source: 'organisation' };
  return env.REPLICATE_API_TOKEN ? { token: env.REPLICATE_API_TOKEN, source: 'environment' } : { token: null, source: null };
}

/** The plugin as one organisation configured it, with its attempts persisted on the job row. */
export async function replicateForOrg(deps: {
  env: ReplicateEnv;
  prisma: PrismaClient;
  settings: ProviderSettingsRepository;
  orgId: string;
  openPackage?: (ref: PackageRef) => Promise<NodeJS.ReadableStream>;
  logger?: ReplicateLogger;
}): Promise<{ plugin: ReplicatePlugin; settings: ReplicateSettings }> {
  const s = await replicateSettingsOf(deps.settings, deps.orgId);
  const { token } = await replicateTokenOf(deps.env, deps.settings, deps.orgId);
  const webhookUrl = s.webhooks_enabled && deps.env.PUBLIC_URL ? `${deps.env.PUBLIC_URL.replace(/\/$/, '')}/api/webhooks/replicate?job={jobId}` : null;
  const plugin = new ReplicatePlugin({
    token,
    baseUrl: deps.env.REPLICATE_API_BASE_URL,
    versionOverride: s.version_override,
    defaultProfile: s.default_profile,
    webhookUrl,
    priceOverrides: priceOverridesOf(s),
    logger: deps.logger,
    openPackage: deps.openPackage ?? (() => Promise.reject(new Error('this service does not upload packages'))),
    recordAttempt: async (jobId: string, attempt: ReplicateAttempt) => {
      await deps.prisma.job.updateMany({ where: { id: jobId, orgId: deps.orgId }, data: { providerAttempt: attempt as object, providerFileId: attempt.fileId } });
    },
    loadAttempt: async (jobId: string) => {
      const job = await deps.prisma.job.findFirst({ where: { id: jobId, orgId: deps.orgId }, select: { providerAttempt: true } });
      return (job?.providerAttempt as ReplicateAttempt | null) ?? null;
    },
  });
  return { plugin, settings: s };
}

/**
 * One plugin per organisation, kept for `ttlMs`, so its caches (the webhook signing secret, resolved
 * versions) survive between calls: rebuilding it per webhook or poll would fetch the secret from
 * Replicate on every delivery. A settings change reaches other services within the TTL.
 */
export class ReplicatePlugins {
  private readonly cache = new Map<string, { at: number; value: Promise<{ plugin: ReplicatePlugin; settings: ReplicateSettings }> }>();

  constructor(private readonly deps: Omit<Parameters<typeof replicateForOrg>[0], 'orgId'>, private readonly ttlMs = 60_000) {}

  forOrg(orgId: string): Promise<{ plugin: ReplicatePlugin; settings: ReplicateSettings }> {
    const hit = this.cache.get(orgId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = replicateForOrg({ ...this.deps, orgId });
    value.catch(() => this.cache.delete(orgId));
    this.cache.set(orgId, { at: Date.now(), value });
    return value;
  }

  /** After this organisation's settings changed here. */
  invalidate(orgId: string): void {
    this.cache.delete(orgId);
  }
}

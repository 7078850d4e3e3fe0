import { z } from 'zod';
import { defineProvider, type ProviderContext } from '@ct/providers-core';
import { priceOverridesOf, replicateSettingsSchema, type ReplicateSettings } from './replicate-settings';
import { ReplicatePlugin } from './replicate.plugin';

const ms = (dflt: number) => z.coerce.number().int().positive().default(dflt);

/** Replicate's environment: a deployment-wide token (an organisation may store its own) and the poll cadence. */
export const replicateEnvSchema = z.object({
  REPLICATE_API_TOKEN: z.string().min(1).optional(),
  REPLICATE_API_BASE_URL: z.string().url().default('https://api.replicate.com/v1'),
  /** Poll cadence while a job is active without webhooks (backs off from the first value to the second). */
  REPLICATE_POLL_MIN_MS: ms(5_000),
  REPLICATE_POLL_MAX_MS: ms(30_000),
  /** With webhooks on, polling is only a safety net for lost deliveries. */
  REPLICATE_POLL_WITH_WEBHOOKS_MS: ms(300_000),
});
export type ReplicateEnv = z.infer<typeof replicateEnvSchema>;

/** SimpleTuner's trainer on Replicate; registered in libs/providers/catalog. */
export const replicateProvider = defineProvider<ReplicateSettings, ReplicateEnv>({
  name: 'replicate',
  label: 'Replicate',
  capabilities: { costTracking: true, liveLogs: true, webhooks: true, maxUploadBytes: 99_999_999, uploadsPackage: true, workerClaimed: false, polled: true, dataLeavesInfrastructure: true },
  settingsSchema: replicateSettingsSchema,
  secret: { label: 'API token', envVar: 'REPLICATE_API_TOKEN' },
  envSchema: replicateEnvSchema,
  create: (ctx: ProviderContext<ReplicateSettings, ReplicateEnv>) =>
    new ReplicatePlugin({
      token: ctx.secret,
      baseUrl: ctx.env.REPLICATE_API_BASE_URL,
      versionOverride: ctx.settings.version_override,
      defaultProfile: ctx.settings.default_profile,
      webhookUrl: ctx.settings.webhooks_enabled && ctx.publicUrl ? ctx.webhookUrl : null,
      priceOverrides: priceOverridesOf(ctx.settings),
      logger: ctx.logger,
      openPackage: ctx.openPackage,
      cadence: { minMs: ctx.env.REPLICATE_POLL_MIN_MS, maxMs: ctx.env.REPLICATE_POLL_MAX_MS, quietMs: ctx.env.REPLICATE_POLL_WITH_WEBHOOKS_MS },
    }),
});

import { z } from 'zod';
import type { PriceOverrides } from './hardware-profiles';

/** What an organisation can set for Replicate (`PUT /api/cloud/providers/replicate/config`); the token is separate. */
export const replicateSettingsSchema = z
  .object({
    version_override: z.string().min(1).max(200).nullable().default(null).describe('pin a model version: `owner/name:<id>` or a bare `<id>` of the profile model'),
    default_profile: z.string().min(1).max(20).default('h100').describe('hardware profile of jobs that name none'),
    webhooks_enabled: z.boolean().default(true).describe('ask Replicate for signed webhooks (needs PUBLIC_URL); polling stays the safety net'),
    /** Dollars per hour per base GPU (`h100`, `l40s`) or exact profile (`l40s-x4`). */
    price_overrides: z.record(z.string().max(20), z.number().positive().max(10_000)).default({}).describe('dollars per hour by base GPU (`l40s`) or exact profile (`h100-x4`)'),
  })
  .strict();
export type ReplicateSettings = z.infer<typeof replicateSettingsSchema>;

export function priceOverridesOf(s: ReplicateSettings): PriceOverrides {
  return Object.fromEntries(Object.entries(s.price_overrides).map(([k, dollars]) => [k, BigInt(Math.round(dollars * 1_000_000))]));
}

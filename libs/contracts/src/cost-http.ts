import { z } from 'zod';
import { responseSchema } from './api-schemas';

/** `POST /api/cloud/cost-estimate` (same body as a submission) and the estimate a job carries. */

export const costEstimateSchema = responseSchema(
  'CostEstimate',
  z.object({
    provider: z.string(),
    hardware_profile: z.string().nullable(),
    gpu_count: z.number().int().nullable().describe('multi-GPU profiles are priced for all their GPUs'),
    steps: z.number().int().nullable().describe("the config's `max_train_steps`"),
    dollars_per_second: z.number().describe("the profile's price for this organisation, all GPUs included (0 on your own hardware)"),
    dollars_per_hour: z.number(),
    estimate: z
      .object({
        seconds: z.number().describe('expected run time (billed from start to end)'),
        seconds_low: z.number(),
        seconds_high: z.number(),
        cost_usd: z.number(),
        cost_usd_low: z.number(),
        cost_usd_high: z.number(),
        basis: z.enum(['history', 'default_table']).describe("`history`: this organisation's completed runs on the same provider and profile; `default_table`: the provider's documented table"),
        basis_detail: z.string(),
        seconds_per_step: z.number(),
        startup_seconds: z.number(),
        samples: z.number().int().describe('completed runs it learned from'),
      })
      .nullable()
      .describe('null when nothing fits (see `reason`)'),
    reason: z.string().nullable().describe('why there is no estimate, in words a user can act on'),
    at: z.string().describe('ISO 8601, UTC'),
  }),
);
export type CostEstimateView = z.infer<typeof costEstimateSchema>;

/** What a finished job actually took and cost, beside its estimate. */
export const costActualSchema = z.object({ seconds: z.number().nullable(), cost_usd: z.number() });
export type CostActualView = z.infer<typeof costActualSchema>;

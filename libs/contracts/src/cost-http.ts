import { z } from 'zod';
import { requestSchema, responseSchema } from './api-schemas';

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

const usdAmount = z.number().positive().max(1_000_000).describe('US dollars (at most $1,000,000; micro-dollar precision)');
const limitSchema = z
  .object({
    provider: z.string().min(1).max(50).regex(/^(\*|[a-z0-9.-]+)$/, 'a provider name or * for all').default('*').describe('a provider, or `*` for all'),
    period: z.enum(['day', 'week', 'month']).describe("in the organisation's `time_zone`; a week starts on Monday"),
    amount_usd: usdAmount,
    action: z.enum(['warn', 'block']).describe('`warn`: jobs and the status say so; `block`: a submission that would pass it is refused and a running job carrying spend past it is stopped'),
  })
  .strict();
const runtimeLimitSchema = z.object({ provider: z.string().min(1).max(50).regex(/^[a-z0-9.-]+$/, 'a provider name'), max_seconds: z.number().int().min(1).max(30 * 86_400) }).strict();

export const costLimitsBodySchema = requestSchema(
  'CostLimitsBody',
  z
    .object({
      time_zone: z.string().min(1).max(64).default('UTC').describe('an IANA time zone, e.g. `Europe/Berlin`'),
      limits: z.array(limitSchema).max(50).default([]),
      max_runtime: z.array(runtimeLimitSchema).max(50).default([]).describe('the longest a run of each provider may take; a longer one is cancelled'),
    })
    .strict(),
);
export type CostLimitsBody = z.infer<typeof costLimitsBodySchema>;

export const costLimitsSchema = responseSchema(
  'CostLimits',
  z.object({
    time_zone: z.string(),
    limits: z.array(z.object({ provider: z.string(), period: z.enum(['day', 'week', 'month']), amount_usd: z.number(), action: z.enum(['warn', 'block']) })),
    max_runtime: z.array(z.object({ provider: z.string(), max_seconds: z.number().int() })),
  }),
);
export type CostLimitsView = z.infer<typeof costLimitsSchema>;

export const costLimitStatusSchema = responseSchema(
  'CostLimitStatus',
  z.object({
    time_zone: z.string(),
    limits: z.array(
      z.object({
        provider: z.string(),
        period: z.enum(['day', 'week', 'month']),
        action: z.enum(['warn', 'block']),
        amount_usd: z.number(),
        window_start: z.string(),
        window_end: z.string(),
        spent_usd: z.number().describe('settled cost of ended jobs and accrued cost of running ones, submitted in this window'),
        reserved_usd: z.number().describe("what active jobs still hold of their estimates"),
        used_usd: z.number(),
        used_fraction: z.number(),
        state: z.enum(['ok', 'warning', 'reached']).describe('`warning` from 80 %, `reached` from 100 %'),
      }),
    ),
  }),
);
export type CostLimitStatusView = z.infer<typeof costLimitStatusSchema>;

export const spendMetricsQuerySchema = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }).strict();
export type SpendMetricsQuery = z.infer<typeof spendMetricsQuerySchema>;

export const spendMetricsSchema = responseSchema(
  'SpendMetrics',
  z.object({
    days: z.number().int(),
    since: z.string(),
    time_zone: z.string(),
    total_usd: z.number(),
    by_day: z.array(z.object({ day: z.string().describe("YYYY-MM-DD in the organisation's time zone"), cost_usd: z.number(), jobs: z.number().int() })),
    by_provider: z.array(z.object({ provider: z.string(), cost_usd: z.number(), jobs: z.number().int() })),
    jobs_by_status: z.record(z.string(), z.number().int()),
  }),
);
export type SpendMetricsView = z.infer<typeof spendMetricsSchema>;

/** A job's ledger: what it was estimated at, holds, has accrued and, once ended and finalized, what was settled. */
export const jobSpendingSchema = z.object({
  estimated_usd: z.number().nullable(),
  reserved_usd: z.number(),
  accrued_usd: z.number().describe('cost so far (the billed cost once ended)'),
  settled_usd: z.number().nullable().describe('the final cost, once the provider settled it'),
  warnings: z.array(z.string()).describe('spending limits this job came near or passed'),
});

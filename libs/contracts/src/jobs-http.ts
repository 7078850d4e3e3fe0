import { z } from 'zod';
import { JOB_STATUSES } from '@ct/job-domain';
import { requestSchema } from './api-schemas';

/** What the jobs API reads: bodies, queries, path parameters and headers. The answers are in job-view.ts. */

/** A provider's name as the catalog registers it (checked against the catalog at submission). */
export const providerNameSchema = z.string().min(1).max(50).regex(/^[a-z0-9.-]+$/, 'a provider name (see GET /api/cloud/providers)');

/** A job id in a path: what the API hands out (a UUID), never a path segment such as `..` or a huge string. */
export const jobIdSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, 'not a job id').describe('the job id');

/** One dataset of SimpleTuner's dataloader config: its own keys pass through untouched. */
export const datasetEntrySchema = z
  .object({
    id: z.string().min(1).max(200).optional(),
    type: z.string().min(1).max(50).optional(),
    instance_data_dir: z.string().min(1).max(4096).optional(),
  })
  .passthrough()
  .superRefine((d, ctx) => {
    if (d.type === 'local' && !d.instance_data_dir) {
      ctx.addIssue({ code: 'custom', message: 'a local dataset needs instance_data_dir', path: ['instance_data_dir'] });
    }
  });
export type DatasetEntry = z.infer<typeof datasetEntrySchema>;

export const workerRequirementsSchema = z
  .object({
    labels: z.array(z.string().min(1).max(100)).max(20).default([]),
    min_gpu_memory_gib: z.number().nonnegative().max(4096).optional(),
  })
  .strict();
export type WorkerRequirements = z.infer<typeof workerRequirementsSchema>;

export const submitJobBodySchema = requestSchema(
  'SubmitJobBody',
  z
    .object({
      name: z.string().min(1).max(200).optional(),
      config_name: z.string().min(1).max(200).optional(),
      provider: providerNameSchema.optional().describe('`local` when left out'),
      type: z.enum(['training']).default('training'),
      config: z.record(z.string(), z.unknown()).describe("the trainer's config (SimpleTuner's config.json)"),
      dataloader_config: z.array(datasetEntrySchema).max(100).default([]),
      worker_requirements: workerRequirementsSchema.optional(),
      hardware_profile: z.string().max(50).optional(),
      idempotency_key: z.string().min(1).max(200).optional().describe('like the Idempotency-Key header, which wins'),
      priority: z.number().int().min(1).max(10).optional().describe("1-10, higher runs sooner (the organisation's default when left out)"),
      max_runtime_seconds: z.number().int().min(1).max(30 * 86_400).optional().describe('cancel the run if it takes longer (also a per-provider maximum: PUT /api/cloud/cost-limits)'),
      consent_digest: z
        .string()
        .regex(/^[0-9a-f]{64}$/, 'a consent digest (64 hex digits, from the preview)')
        .optional()
        .describe('consent at submission: the `digest` of the `POST /api/cloud/data-consent/preview` the user saw'),
    })
    .strict(),
);
export type SubmitJobBody = z.infer<typeof submitJobBodySchema>;

/** SimpleTuner's submit path names the provider in the query. */
export const submitCompatQuerySchema = z.object({ provider: providerNameSchema.optional() }).strict();
export type SubmitCompatQuery = z.infer<typeof submitCompatQuerySchema>;

export const listJobsQuerySchema = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    provider: z.string().max(50).optional(),
    type: z.string().max(50).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional().describe('`next_cursor` of the previous page'),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof listJobsQuerySchema>;

/** `true`/`false` in a query string (also `1`/`0`), parsed to a boolean. */
const queryFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const deleteJobQuerySchema = z.object({ keep_outputs: queryFlag.optional().describe('keep the outputs in storage') }).strict();
export type DeleteJobQuery = z.infer<typeof deleteJobQuerySchema>;

/** A log line id: a positive 64-bit integer (Postgres bigint), never a huge number or text. */
export const logIdSchema = z
  .string()
  .regex(/^\d{1,19}$/, 'a log line id (digits)')
  // zod runs a refinement even after the regex failed: BigInt() must only ever see digits.
  .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= 9_223_372_036_854_775_807n, 'larger than any log line id');

export const jobLogsQuerySchema = z
  .object({
    follow: queryFlag.optional().describe('stream new lines over SSE until the job ends (also `Accept: text/event-stream`)'),
    after: logIdSchema.optional().describe('only lines after this id (`next_after` of the previous page)'),
    limit: z.coerce.number().int().min(1).max(5000).default(1000),
  })
  .strict();
export type JobLogsQuery = z.infer<typeof jobLogsQuerySchema>;

/** SSE resumption: the id of the last line the client received; `after` wins when both are sent. */
export const lastEventIdHeaderSchema = logIdSchema.optional().describe('the id of the last line received (an EventSource sends it when it reconnects)');

/** Idempotency keys are the caller's own tokens: printable ASCII, at most 200 characters. */
export const idempotencyKeyHeaderSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .optional()
  .describe('a repeated key (per API key, 24 h) answers with the first job instead of creating another');

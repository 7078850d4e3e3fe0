import { z } from 'zod';
import { JOB_STATUSES, type JobProgress } from '@ct/job-domain';
import { responseSchema } from './api-schemas';
import { consentPreviewSchema } from './consent-http';
import { costActualSchema, costEstimateSchema, jobSpendingSchema } from './cost-http';

/** The job as clients see it (snake_case, like SimpleTuner's API). Secrets never appear here. */

const isoTime = z.string().describe('ISO 8601, UTC');
/** Any JSON value, null included (OpenAPI 3.0 has no `nullable` without a type). */
const json = z.unknown().describe('JSON as submitted');

/** Package summary recorded on the job and shown to the user: per dataset, what was packaged and what was left out. */
export const datasetSummarySchema = z.object({
  id: z.string(),
  path: z.string(),
  archivePrefix: z.string(),
  files: z.number().int(),
  bytes: z.number(),
  excluded: z.record(z.string(), z.number()).describe('files left out, by reason'),
});
export type DatasetSummary = z.infer<typeof datasetSummarySchema>;
export const packageSummarySchema = z.object({
  datasets: z.array(datasetSummarySchema),
  files: z.number().int(),
  bytes: z.number(),
  archiveBytes: z.number(),
  storageKey: z.string(),
});
export type PackageSummary = z.infer<typeof packageSummarySchema>;

export const jobProgressSchema = z.object({
  step: z.number(),
  totalSteps: z.number().nullable(),
  loss: z.number().nullable(),
  lastCheckpoint: z.string().nullable(),
  percent: z.number().nullable(),
  updatedAt: isoTime,
}) satisfies z.ZodType<JobProgress>;

export const jobSchema = responseSchema(
  'Job',
  z.object({
    id: z.string(),
    job_id: z.string().describe('the same as `id` (SimpleTuner clients read this one)'),
    name: z.string(),
    type: z.string(),
    provider: z.string(),
    status: z.enum(JOB_STATUSES),
    hardware_profile: z.string().nullable(),
    worker_requirements: z
      .object({ labels: z.array(z.string()).optional(), min_gpu_memory_gib: z.number().optional() })
      .catchall(z.unknown())
      .describe('as the provider recorded them at submission'),
    worker_id: z.string().nullable(),
    external_id: z.string().nullable().describe("the provider's own id of the run"),
    progress: jobProgressSchema.nullable(),
    cost_usd: z.number(),
    error: z.string().nullable(),
    exit_code: z.number().int().nullable(),
    requeue_count: z.number().int(),
    output: z.object({ bucket: z.string(), prefix: z.string() }).nullable().describe('where the outputs are in the S3 endpoint'),
    package: z
      .object({ bucket: z.string(), key: z.string(), files: z.number().int(), bytes: z.number(), archive_bytes: z.number(), summary: packageSummarySchema })
      .nullable()
      .describe('the packaged datasets (`GET /api/cloud/jobs/{id}` only)'),
    // Copies of the named schemas: OpenAPI 3.0 cannot make a $ref nullable.
    estimate: z.object(costEstimateSchema.shape).nullable().describe('the cost estimate the job was submitted with (as `POST /api/cloud/cost-estimate` answers it)'),
    priority: z.number().int(),
    waiting_reason: z.string().nullable().describe('while `waiting` (for a concurrency slot), or `queued` with no worker able to take it: why'),
    spending: jobSpendingSchema,
    actual: costActualSchema.nullable().describe('once ended: the seconds it ran and what it cost, beside `estimate`'),
    consent_request: z
      .object(consentPreviewSchema.shape)
      .nullable()
      .describe('while `awaiting_consent`: what would be uploaded; confirm or decline with `POST /api/cloud/jobs/{id}/consent`'),
    consent_deadline: isoTime.nullable().describe('while `awaiting_consent`: when the job is cancelled without an answer'),
    created_at: isoTime,
    updated_at: isoTime,
    started_at: isoTime.nullable(),
    finished_at: isoTime.nullable(),
  }),
);
export type JobView = z.infer<typeof jobSchema>;

/** The job with what it was submitted with, as the submission answers it. */
export const jobWithConfigSchema = responseSchema(
  'JobWithConfig',
  jobSchema.extend({
    config: z.record(z.string(), z.unknown()),
    dataloader_config: z.array(json),
    rewritten_dataloader_config: z.array(json).nullable().describe('the dataloader with paths inside the package (once packaged)'),
  }),
);
export type JobWithConfigView = z.infer<typeof jobWithConfigSchema>;

export const artifactSchema = z.object({ bucket: z.string(), key: z.string(), size: z.number(), etag: z.string(), sha256: z.string().nullable() });

export const jobDetailSchema = responseSchema(
  'JobDetail',
  jobWithConfigSchema.extend({
    artifacts: z.array(artifactSchema),
  }),
);
export type JobDetailView = z.infer<typeof jobDetailSchema>;

export const jobListSchema = responseSchema('JobList', z.object({ jobs: z.array(jobSchema), next_cursor: z.string().nullable() }));
export type JobList = z.infer<typeof jobListSchema>;

/** SimpleTuner's submit answer. */
export const submitCompatResponseSchema = responseSchema(
  'SubmitCompatResponse',
  z.object({ success: z.literal(true), job_id: z.string(), status: z.enum(JOB_STATUSES), idempotent_hit: z.boolean(), job: jobWithConfigSchema }),
);
export type SubmitCompatResponse = z.infer<typeof submitCompatResponseSchema>;

/** One row of the job's timeline: a state change or an informational event (`running → running`). */
export const jobEventSchema = z.object({
  id: z.string(),
  from_status: z.string().nullable(),
  to_status: z.string(),
  reason: z.string(),
  data: z.unknown().describe('what the event records (JSON, or null)'),
  at: isoTime,
});
export type JobEventView = z.infer<typeof jobEventSchema>;
export const jobEventListSchema = responseSchema('JobEventList', z.object({ events: z.array(jobEventSchema) }));

export const jobLogLineSchema = responseSchema(
  'JobLogLine',
  z.object({ id: z.string().describe('resume after it with `after` or Last-Event-ID'), stream: z.string(), line: z.string(), ts: isoTime }),
);
export type JobLogLineView = z.infer<typeof jobLogLineSchema>;
export const jobLogPageSchema = responseSchema(
  'JobLogPage',
  z.object({ logs: z.array(jobLogLineSchema), next_after: z.string().describe('pass as `after` for the next page') }),
);
export type JobLogPage = z.infer<typeof jobLogPageSchema>;

/**
 * The log stream (`?follow=true`), one Server-Sent Event each: `event` is the SSE event name, `id` its id
 * and `data` the JSON in its data line. `end` comes last, when the job has ended (or was deleted).
 */
export const jobLogStreamEventSchema = responseSchema(
  'JobLogStreamEvent',
  z.discriminatedUnion('event', [
    z.object({ event: z.literal('log'), id: z.string(), data: jobLogLineSchema }),
    z.object({ event: z.literal('end'), data: z.object({ status: z.string().describe('the final status, or `deleted`') }) }),
  ]),
);
export type JobLogStreamEvent = z.infer<typeof jobLogStreamEventSchema>;

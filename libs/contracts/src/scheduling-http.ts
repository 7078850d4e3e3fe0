import { z } from 'zod';
import { requestSchema, responseSchema } from './api-schemas';

/** Priorities and concurrency limits (`/api/cloud/scheduling`, `/api/queue/position/{id}`). */

export const prioritySchema = z.number().int().min(1).max(10).describe('1-10, higher runs sooner; a waiting job gains one for every 10 minutes it waits');

export const schedulingSettingsSchema = responseSchema(
  'SchedulingSettings',
  z.object({
    default_priority: z.number().int(),
    concurrency: z.array(z.object({ provider: z.string(), max_jobs: z.number().int() })).describe('the most jobs of a provider (or `*`: all) this organisation runs at once'),
    deployment_concurrency: z.record(z.string(), z.number().int()).describe("the deployment's own limit per provider (PROVIDER_CONCURRENCY)"),
  }),
);
export type SchedulingSettingsView = z.infer<typeof schedulingSettingsSchema>;

export const putSchedulingSettingsBodySchema = requestSchema(
  'PutSchedulingSettingsBody',
  z
    .object({
      default_priority: prioritySchema.default(5),
      concurrency: z
        .array(z.object({ provider: z.string().min(1).max(50).regex(/^(\*|[a-z0-9.-]+)$/, 'a provider name or *'), max_jobs: z.number().int().min(1).max(10_000) }).strict())
        .max(50)
        .default([]),
    })
    .strict(),
);
export type PutSchedulingSettingsBody = z.infer<typeof putSchedulingSettingsBodySchema>;

export const jobPriorityBodySchema = requestSchema('JobPriorityBody', z.object({ priority: prioritySchema }).strict());
export type JobPriorityBody = z.infer<typeof jobPriorityBodySchema>;

export const queuePositionSchema = responseSchema(
  'QueuePosition',
  z.object({
    job_id: z.string(),
    status: z.string(),
    provider: z.string(),
    position: z.number().int().nullable().describe('1 = next; null when the job is not waiting for a slot'),
    waiting: z.number().int().describe("jobs of this provider waiting for a slot"),
    slots_in_use: z.number().int(),
    slots: z.number().int().nullable().describe('the tighter of the deployment and organisation limit, or null for none'),
    reason: z.string().nullable(),
    estimated_wait_seconds: z.number().nullable().describe('the jobs ahead, over the slots, times the median run of this provider; null when unknown'),
  }),
);
export type QueuePositionView = z.infer<typeof queuePositionSchema>;

import { z } from 'zod';
import { JOB_STATUSES } from '@ct/job-domain';
import { responseSchema } from './api-schemas';

/**
 * `GET /api/events`, one Server-Sent Event each: `event` is the SSE event name and `data` the JSON in its
 * data line. `ready` comes first; then one `job.changed` per change of a job of the caller's organisation.
 */
export const jobChangeStreamEventSchema = responseSchema(
  'JobChangeStreamEvent',
  z.discriminatedUnion('event', [
    z.object({ event: z.literal('ready'), data: z.object({ org_id: z.string() }) }),
    z.object({
      event: z.literal('job.changed'),
      data: z.object({ job_id: z.string(), status: z.enum(JOB_STATUSES), reason: z.string().optional(), at: z.string().describe('ISO 8601, UTC') }),
    }),
  ]),
);
export type JobChangeStreamEvent = z.infer<typeof jobChangeStreamEventSchema>;

import { z } from 'zod';
import { responseSchema } from './api-schemas';

/** One failed check of a request, as `validation_failed` lists them: the field's dotted path and what is wrong. */
export const validationIssueSchema = z.object({
  path: z.string().describe('dotted path of the field ("" for the whole body, query or header)'),
  message: z.string(),
});
export type ValidationIssue = z.infer<typeof validationIssueSchema>;

/** Every 4xx/5xx answer of the API (RFC 9457 problem details, `application/problem+json`). */
export const problemSchema = responseSchema(
  'Problem',
  z
    .object({
      type: z.string().describe('`urn:ct:error:<code>`'),
      title: z.string().describe('the code in words'),
      status: z.number().int().min(400).max(599).describe('the HTTP status, repeated'),
      code: z.string().describe('stable, machine-readable error code (e.g. `validation_failed`, `not_found`, `stale_lease`)'),
      detail: z.string().describe('what went wrong, in words a person can act on'),
      errors: z.array(validationIssueSchema).optional().describe('the failed checks (`validation_failed` only)'),
    })
    .describe('An error: its stable `code` says what happened, `detail` says what to do about it.'),
);
export type Problem = z.infer<typeof problemSchema>;

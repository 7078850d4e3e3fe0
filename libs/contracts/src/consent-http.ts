import { z } from 'zod';
import { CONSENT_MODES, EXCLUSION_REASONS } from '@ct/job-domain';
import { requestSchema, responseSchema } from './api-schemas';
import { datasetEntrySchema, providerNameSchema } from './jobs-http';

/** Consent before upload (`/api/cloud/data-consent/*`, `POST /api/cloud/jobs/{id}/consent`). */

const digestSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a consent digest (64 hex digits, from the preview)');

export const consentSettingSchema = responseSchema(
  'ConsentSetting',
  z.object({
    mode: z
      .enum(CONSENT_MODES)
      .describe(
        "`ask` (default): the job waits until the user confirms; `allow`: no prompt; `deny`: local data is never uploaded. It applies to providers whose data leaves this infrastructure (Replicate; self-hosted workers when their provider setting `data_leaves_infrastructure` is on)",
      ),
    timeout_seconds: z.number().int().describe('how long a job waits for an answer before it is cancelled'),
  }),
);
export type ConsentSettingView = z.infer<typeof consentSettingSchema>;

export const putConsentSettingBodySchema = requestSchema(
  'PutConsentSettingBody',
  z
    .object({
      mode: z.enum(CONSENT_MODES).optional(),
      timeout_seconds: z.number().int().min(60).max(30 * 86_400).optional().describe('60 s to 30 days'),
    })
    .strict(),
);
export type PutConsentSettingBody = z.infer<typeof putConsentSettingBodySchema>;

export const consentPreviewBodySchema = requestSchema(
  'ConsentPreviewBody',
  z
    .object({
      provider: providerNameSchema.optional().describe('`local` when left out'),
      dataloader_config: z.array(datasetEntrySchema).max(100).default([]),
    })
    .strict(),
);
export type ConsentPreviewBody = z.infer<typeof consentPreviewBodySchema>;

const excludedFileSchema = z.object({ path: z.string().describe('inside the dataset; a folder stands for everything in it'), reason: z.enum(EXCLUSION_REASONS) });

/** What would be uploaded, per dataset, and the digest a consent is bound to. */
export const consentPreviewSchema = responseSchema(
  'ConsentPreview',
  z.object({
    provider: z.string(),
    digest: z.string().describe('send it as `consent_digest` with the submission, or to `POST /api/cloud/jobs/{id}/consent`'),
    files: z.number().int(),
    bytes: z.number(),
    datasets: z.array(
      z.object({
        id: z.string(),
        path: z.string(),
        files: z.number().int(),
        bytes: z.number(),
        excluded: z.record(z.string(), z.number()).describe('entries left out, by reason'),
        excludedTotal: z.number().int(),
        excludedFiles: z.array(excludedFileSchema).describe('the first 50 entries left out, with the reason'),
      }),
    ),
  }),
);
export type ConsentPreviewView = z.infer<typeof consentPreviewSchema>;

export const consentPreviewAnswerSchema = responseSchema(
  'ConsentPreviewAnswer',
  z.object({
    mode: z.enum(CONSENT_MODES),
    required: z.boolean().describe('a submission of these datasets to this provider waits for consent (`ask`) unless it carries the digest'),
    refused: z.boolean().describe('the organisation refuses to upload local data to this provider (`deny`)'),
    preview: consentPreviewSchema,
  }),
);
export type ConsentPreviewAnswer = z.infer<typeof consentPreviewAnswerSchema>;

export const jobConsentBodySchema = requestSchema(
  'JobConsentBody',
  z.object({ decision: z.enum(['confirm', 'decline']), digest: digestSchema.optional().describe('required to confirm: the digest of the summary shown') }).strict(),
);
export type JobConsentBody = z.infer<typeof jobConsentBodySchema>;

export { digestSchema as consentDigestSchema };

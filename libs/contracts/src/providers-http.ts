import { z } from 'zod';
import { requestSchema, responseSchema } from './api-schemas';
import { providerNameSchema } from './jobs-http';

/**
 * The providers API, generic over the catalog: a provider's own settings are described at run time by its
 * `settings_schema` (JSON Schema), which is what a UI renders its form from.
 */

export const providerNameParamSchema = providerNameSchema.describe('a provider name (see GET /api/cloud/providers)');

export const providerCapabilitiesSchema = z.object({
  costTracking: z.boolean(),
  liveLogs: z.boolean(),
  webhooks: z.boolean(),
  maxUploadBytes: z.number().nullable().describe('largest package the provider accepts; null for no limit'),
  uploadsPackage: z.boolean().describe('the job passes through `uploading`'),
  workerClaimed: z.boolean().describe("queued jobs wait for one of the organisation's worker agents"),
  polled: z.boolean(),
  dataLeavesInfrastructure: z.boolean().describe("the job's data leaves the user's own infrastructure"),
});

const providerBase = { name: z.string(), label: z.string(), capabilities: providerCapabilitiesSchema };
export const providerSchema = responseSchema(
  'Provider',
  z.discriminatedUnion('available', [
    z.object({ ...providerBase, available: z.literal(false), configured: z.literal(false), status: z.literal('coming soon') }),
    z.object({
      ...providerBase,
      available: z.literal(true),
      configured: z.boolean().describe('usable now: it needs no secret, or one is stored or in the environment'),
      settings_schema: z.record(z.string(), z.unknown()).describe("JSON Schema of the provider's settings (PUT …/config)"),
      secret: z.object({ label: z.string(), env_var: z.string().nullable() }).optional().describe('the secret the provider takes (write-only)'),
    }),
  ]),
);
export type ProviderView = z.infer<typeof providerSchema>;
export const providerListSchema = responseSchema('ProviderList', z.object({ providers: z.array(providerSchema) }));

/** The organisation's settings of a provider (its own fields, defaults filled in), never its secret. */
export const providerConfigSchema = responseSchema(
  'ProviderConfig',
  z
    .object({
      token_configured: z.boolean().optional().describe('providers with a secret: one is stored or in the environment'),
      token_source: z.enum(['organisation', 'environment']).nullable().optional(),
      webhook_url: z.string().nullable().describe('where the provider sends webhooks (needs PUBLIC_URL)'),
    })
    .catchall(z.unknown()),
);
export type ProviderConfigView = z.infer<typeof providerConfigSchema>;

/**
 * A patch of the provider's settings (the fields of its `settings_schema`) and, for a provider with a secret,
 * `token` (null removes the stored one). The gateway checks it against the provider's own schema.
 */
export const providerConfigBodySchema = requestSchema('ProviderConfigBody', z.record(z.string(), z.unknown()));
/** The secret in a provider's configuration patch. */
export const providerTokenSchema = z.string().min(8).max(500).nullable().optional();

export const credentialCheckSchema = responseSchema(
  'CredentialCheck',
  z.object({ ok: z.boolean(), account: z.record(z.string(), z.unknown()).optional(), error: z.string().optional() }),
);
export type CredentialCheck = z.infer<typeof credentialCheckSchema>;

/** A provider may add fields of its own (Replicate: the base `gpu` its price overrides are keyed by). */
export const hardwareOptionSchema = z
  .object({
    profile: z.string(),
    gpuName: z.string(),
    gpuCount: z.number().int(),
    microsPerHour: z.number().int().describe('price: integer micro-dollars per hour'),
    dollarsPerHour: z.number(),
    dollarsPerSecond: z.number(),
    model: z.string().optional(),
  })
  .catchall(z.unknown());
const providerHardware = z.object({ provider: z.string(), options: z.array(hardwareOptionSchema) });
export const hardwareQuerySchema = z.object({ provider: providerNameSchema.optional() }).strict();
export type HardwareQuery = z.infer<typeof hardwareQuerySchema>;
/** One provider's list, also at the top level when only one provider has hardware (or `?provider=` named one). */
export const hardwareOptionsSchema = responseSchema(
  'HardwareOptions',
  z.object({ provider: z.string().optional(), options: z.array(hardwareOptionSchema).optional(), providers: z.array(providerHardware) }),
);
export type HardwareOptions = z.infer<typeof hardwareOptionsSchema>;

/** Webhooks name their provider in the path and the job in the query; anything else names no job here (404). */
export const webhookProviderParamSchema = z.string().regex(/^[A-Za-z0-9-]{1,100}$/);
export const webhookQuerySchema = z.object({ job: z.string().regex(/^[A-Za-z0-9-]{1,100}$/).describe('the job the webhook is about') });
/** The provider's own payload, checked against its signature before it is parsed. */
export const webhookPayloadSchema = requestSchema('WebhookPayload', z.record(z.string(), z.unknown()));
export const webhookReceiptSchema = responseSchema('WebhookReceipt', z.object({ accepted: z.boolean(), reason: z.string().optional() }));
export type WebhookReceipt = z.infer<typeof webhookReceiptSchema>;

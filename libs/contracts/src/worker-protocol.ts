import { z } from 'zod';
import { requestSchema, responseSchema } from './api-schemas';
import { jobIdSchema } from './jobs-http';
import { progressReport } from './queues';

/** The HTTP protocol between worker agents and the gateway; see docs/WORKER-PROTOCOL.md. */

/** Fences and exit codes are Postgres `integer` columns: a larger number could only fail deep in the database. */
const int32 = z.number().int().min(-2_147_483_648).max(2_147_483_647);
const fence = int32.nonnegative().describe('the fencing token of the lease the claim handed out');

export const gpuInfoSchema = z.object({ name: z.string().max(200), memoryMiB: z.number().int().nonnegative() }).strict();
export type GpuInfo = z.infer<typeof gpuInfoSchema>;

export const registerWorkerBodySchema = requestSchema(
  'RegisterWorkerBody',
  z
    .object({
      labels: z.array(z.string().min(1).max(100)).max(50).default([]),
      gpus: z.array(gpuInfoSchema).max(64).default([]),
      hostname: z.string().max(255).optional(),
      agentVersion: z.string().max(50).optional(),
    })
    .strict(),
);
export type RegisterWorkerBody = z.infer<typeof registerWorkerBodySchema>;

export const registerWorkerResponseSchema = responseSchema(
  'RegisterWorkerResponse',
  z.object({
    workerId: z.string(),
    heartbeatIntervalMs: z.number().int(),
    leaseTtlMs: z.number().int(),
    labels: z.array(z.string()).optional().describe("the labels jobs are routed by: the admin's (the agent's own --labels do not add to them); absent from older gateways"),
    gpuMemoryGib: z.number().optional().describe("GPU memory jobs may count on: the admin's figure, lowered to the largest GPU the agent reported"),
    ignoredLabels: z.array(z.string()).optional().describe('labels the agent asked for that the admin did not give this worker'),
  }),
);
export type RegisterWorkerResponse = z.infer<typeof registerWorkerResponseSchema>;

export const claimQuerySchema = z
  .object({ waitMs: z.coerce.number().int().min(0).max(60_000).default(20_000).describe('how long to wait for a job (capped by the gateway)') })
  .strict();
export type ClaimQuery = z.infer<typeof claimQuerySchema>;

export const s3GrantSchema = z.object({
  endpoint: z.string(),
  region: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  packageBucket: z.string(),
  packageKey: z.string().nullable().describe('the dataset zip; null when the job has no local data'),
  outputBucket: z.string(),
  outputPrefix: z.string(),
});
export type S3Grant = z.infer<typeof s3GrantSchema>;

export const claimedJobSchema = responseSchema(
  'ClaimedJob',
  z.object({
    jobId: z.string(),
    fence: z.number().int(),
    name: z.string(),
    config: z.record(z.string(), z.unknown()),
    dataloader: z.array(z.unknown()),
    storage: s3GrantSchema,
    leaseTtlMs: z.number().int(),
  }),
);
export type ClaimedJob = z.infer<typeof claimedJobSchema>;

export const heartbeatBodySchema = requestSchema('HeartbeatBody', z.object({ jobId: jobIdSchema.optional(), fence: fence.optional() }).strict());
export type HeartbeatBody = z.infer<typeof heartbeatBodySchema>;

export const workerCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cancel'), jobId: z.string() }),
  z.object({ type: z.literal('drain') }),
  z.object({ type: z.literal('shutdown'), reason: z.string() }),
]);
export type WorkerCommand = z.infer<typeof workerCommandSchema>;
export const heartbeatResponseSchema = responseSchema('HeartbeatResponse', z.object({ commands: z.array(workerCommandSchema) }));
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;

export const logLineSchema = z.object({
  stream: z.enum(['stdout', 'stderr', 'system']),
  line: z.string().max(16_384),
  ts: z.string().datetime().optional(),
});
/** `seq` numbers a lease's batches (1, 2, …); a batch re-sent after a lost answer carries its number and is stored once. */
export const logBatchBodySchema = requestSchema(
  'LogBatchBody',
  z.object({ fence, seq: z.number().int().positive().max(2_147_483_647).optional(), lines: z.array(logLineSchema).min(1).max(1000) }).strict(),
);
export type LogBatchBody = z.infer<typeof logBatchBodySchema>;
export const logBatchAcceptedSchema = responseSchema(
  'LogBatchAccepted',
  z.object({ accepted: z.number().int().describe('lines stored'), duplicate: z.literal(true).optional().describe('a batch with this number was already stored') }),
);

export const jobReportBodySchema = requestSchema(
  'JobReportBody',
  z
    .object({
      fence,
      kind: z.enum(['started', 'progress', 'completed', 'failed']),
      progress: progressReport.optional(),
      exitCode: int32.nullable().optional(),
      message: z.string().max(4000).optional(),
    })
    .strict(),
);
export type JobReportBody = z.infer<typeof jobReportBodySchema>;
export const jobReportAcceptedSchema = responseSchema(
  'JobReportAccepted',
  z.object({ accepted: z.literal(true), duplicate: z.literal(true).optional().describe('the job already ended under this lease: a re-sent report') }),
);

import { z } from 'zod';
import { progressReport } from './queues';

/** The HTTP protocol between worker agents and the gateway; see docs/WORKER-PROTOCOL.md. */
export const gpuInfo = z.object({ name: z.string().max(200), memoryMiB: z.number().int().nonnegative() }).strict();

export const registerWorkerBody = z
  .object({
    labels: z.array(z.string().min(1).max(100)).max(50).default([]),
    gpus: z.array(gpuInfo).max(64).default([]),
    hostname: z.string().max(255).optional(),
    agentVersion: z.string().max(50).optional(),
  })
  .strict();
export type RegisterWorkerBody = z.infer<typeof registerWorkerBody>;

export const heartbeatBody = z
  .object({ jobId: z.string().optional(), fence: z.number().int().nonnegative().optional() })
  .strict();
export type HeartbeatBody = z.infer<typeof heartbeatBody>;

export type WorkerCommand = { type: 'cancel'; jobId: string } | { type: 'drain' } | { type: 'shutdown'; reason: string };

export const logLine = z.object({
  stream: z.enum(['stdout', 'stderr', 'system']),
  line: z.string().max(16_384),
  ts: z.string().datetime().optional(),
});
/** `seq` numbers a lease's batches (1, 2, …); a batch re-sent after a lost answer carries its number and is stored once. */
export const logBatchBody = z
  .object({ fence: z.number().int().nonnegative(), seq: z.number().int().positive().max(2_147_483_647).optional(), lines: z.array(logLine).min(1).max(1000) })
  .strict();
export type LogBatchBody = z.infer<typeof logBatchBody>;

export const jobReportBody = z
  .object({
    fence: z.number().int().nonnegative(),
    kind: z.enum(['started', 'progress', 'completed', 'failed']),
    progress: progressReport.optional(),
    exitCode: z.number().int().nullable().optional(),
    message: z.string().max(4000).optional(),
  })
  .strict();
export type JobReportBody = z.infer<typeof jobReportBody>;

export interface S3Grant {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  packageBucket: string;
  packageKey: string | null;
  outputBucket: string;
  outputPrefix: string;
}

export interface ClaimedJob {
  jobId: string;
  fence: number;
  name: string;
  config: Record<string, unknown>;
  dataloader: unknown[];
  storage: S3Grant;
  leaseTtlMs: number;
}

export interface RegisterWorkerResponse {
  workerId: string;
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  /** The labels jobs are routed by: the admin's (the agent's own --labels do not add to them). Absent from older gateways. */
  labels?: string[];
  /** GPU memory jobs may count on: the admin's figure, lowered to the largest GPU the agent reported. */
  gpuMemoryGib?: number;
  /** Labels the agent asked for that the admin did not give this worker. */
  ignoredLabels?: string[];
}

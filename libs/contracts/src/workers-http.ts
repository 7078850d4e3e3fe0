import { z } from 'zod';
import { requestSchema, responseSchema } from './api-schemas';
import { gpuInfoSchema } from './worker-protocol';

/** The admin API of workers (`/api/admin/workers`): admins own a worker's labels and GPU memory. */

export const workerIdSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, 'not a worker id').describe('the worker id');

const labels = z.array(z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, dot, dash, colon and underscore only')).max(50);
const gpuMemory = z.number().nonnegative().max(65_536);

export const createWorkerBodySchema = requestSchema(
  'CreateWorkerBody',
  z
    .object({
      name: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
      labels: labels.default([]),
      gpu_memory_gib: gpuMemory.default(0).describe("GPU memory (GiB) this worker's jobs may count on; the agent's report can lower it, never raise it"),
    })
    .strict(),
);
export type CreateWorkerBody = z.infer<typeof createWorkerBodySchema>;

export const updateWorkerBodySchema = requestSchema('UpdateWorkerBody', z.object({ labels: labels.optional(), gpu_memory_gib: gpuMemory.optional() }).strict());
export type UpdateWorkerBody = z.infer<typeof updateWorkerBodySchema>;

export const workerSchema = responseSchema(
  'Worker',
  z.object({
    id: z.string(),
    name: z.string(),
    labels: z.array(z.string()),
    gpu_memory_gib: z.number(),
    gpus: z.array(gpuInfoSchema).describe('as the agent reported them'),
    hostname: z.string().nullable(),
    status: z.string().describe('`registered`, `online`, `offline` or `draining`'),
    token_prefix: z.string(),
    last_heartbeat_at: z.string().nullable(),
    created_at: z.string(),
  }),
);
export type WorkerView = z.infer<typeof workerSchema>;

export const workerListSchema = responseSchema('WorkerList', z.object({ workers: z.array(workerSchema) }));
export type WorkerList = z.infer<typeof workerListSchema>;

/** The worker's token is in this answer only; it is stored hashed. */
export const createdWorkerSchema = responseSchema('CreatedWorker', z.object({ worker: workerSchema, token: z.string(), note: z.string() }));
export type CreatedWorker = z.infer<typeof createdWorkerSchema>;

export const rotatedWorkerTokenSchema = responseSchema(
  'RotatedWorkerToken',
  z.object({ worker: workerSchema, token: z.string(), requeued_jobs: z.array(z.string()).describe('jobs the worker held, back in the queue'), note: z.string() }),
);
export type RotatedWorkerToken = z.infer<typeof rotatedWorkerTokenSchema>;

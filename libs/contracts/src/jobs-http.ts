import { z } from 'zod';
import { JOB_STATUSES } from '@ct/job-domain';

/** A provider's name as the catalog registers it (checked against the catalog at submission). */
export const providerName = z.string().min(1).max(50).regex(/^[a-z0-9.-]+$/, 'a provider name (see GET /api/cloud/providers)');

/** One dataset of SimpleTuner's dataloader config: its own keys pass through untouched. */
export const datasetEntry = z
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
export type DatasetEntry = z.infer<typeof datasetEntry>;

export const workerRequirements = z
  .object({
    labels: z.array(z.string().min(1).max(100)).max(20).default([]),
    min_gpu_memory_gib: z.number().nonnegative().max(4096).optional(),
  })
  .strict();
export type WorkerRequirements = z.infer<typeof workerRequirements>;

export const submitJobBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    config_name: z.string().min(1).max(200).optional(),
    provider: providerName.optional(),
    type: z.enum(['training']).default('training'),
    config: z.record(z.string(), z.unknown()),
    dataloader_config: z.array(datasetEntry).max(100).default([]),
    worker_requirements: workerRequirements.optional(),
    hardware_profile: z.string().max(50).optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
  })
  .strict();
export type SubmitJobBody = z.infer<typeof submitJobBody>;

export const listJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    provider: z.string().max(50).optional(),
    type: z.string().max(50).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof listJobsQuery>;

/** Package summary recorded on the job and shown to the user. */
export interface DatasetSummary {
  id: string;
  path: string;
  archivePrefix: string;
  files: number;
  bytes: number;
  excluded: Record<string, number>;
}
export interface PackageSummary {
  datasets: DatasetSummary[];
  files: number;
  bytes: number;
  archiveBytes: number;
  storageKey: string;
}

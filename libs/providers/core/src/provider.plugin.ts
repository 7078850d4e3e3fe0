import type { JobStatus } from '@ct/job-domain';

/** What a plugin needs to start a job: ids and the package location, never blobs. */
export interface JobForProvider {
  id: string;
  orgId: string;
  name: string;
  provider: string;
  hardwareProfile: string | null;
  config: Record<string, unknown>;
  dataloader: unknown[];
}

export interface PackageRef {
  bucket: string;
  key: string;
  archiveBytes: number;
}

export interface ProviderCapabilities {
  costTracking: boolean;
  liveLogs: boolean;
  webhooks: boolean;
  /** Largest package the provider accepts, or null for no limit. */
  maxUploadBytes: number | null;
  /** The provider takes the package itself (the job passes through `uploading`); workers fetch it instead. */
  uploadsPackage?: boolean;
}

/** Where the job is after runJob: `queued` (waiting for a worker or the provider) or already `running`. */
export interface RunResult {
  status: Extract<JobStatus, 'queued' | 'running'>;
  externalId: string | null;
  reason: string;
}

export interface ProviderJobStatus {
  status: JobStatus;
  externalId: string;
  error?: string;
  billedSeconds?: number;
}

/**
 * The provider plugin interface (SimpleTuner's CloudTrainerService). A provider is one class implementing
 * this plus one registration line; see docs/PROVIDERS.md.
 */
export interface ProviderPlugin {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  validateCredentials(): Promise<{ ok: boolean; account?: Record<string, unknown>; error?: string }>;
  listJobs(limit: number): Promise<ProviderJobStatus[]>;
  runJob(job: JobForProvider, pkg: PackageRef | null): Promise<RunResult>;
  cancelJob(externalId: string): Promise<void>;
  getJobStatus(externalId: string): Promise<ProviderJobStatus | null>;
  getJobLogs(externalId: string): Promise<string[]>;
  estimateCost?(job: JobForProvider): Promise<{ microsPerSecond: bigint; estimatedSeconds: number | null } | null>;
}

/** Provider errors are classified so the queue retries what can succeed later and stops what cannot. */
/** Finds the plugin for a provider as an organisation configured it. */
export interface ProviderResolver {
  resolve(provider: string, orgId: string): Promise<ProviderPlugin>;
}

export class ProviderError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'ProviderError';
  }
}

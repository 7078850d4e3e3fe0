import type { EstimateDefaults, JobStatus, Micros } from '@ct/job-domain';

/** What a plugin knows of a job: ids, the training inputs, and its own state. Never blobs. */
export interface JobForProvider {
  id: string;
  orgId: string;
  name: string;
  provider: string;
  status: JobStatus;
  hardwareProfile: string | null;
  config: Record<string, unknown>;
  dataloader: unknown[];
  externalId: string | null;
  /** The plugin's own state for this job (`jobs.provider_state`), as it last saved it; null at first. */
  state: unknown;
  createdAt: Date;
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
  /** The provider takes the package itself: the job passes through `uploading`. */
  uploadsPackage: boolean;
  /** Queued jobs wait for a worker agent of the organisation to claim them (self-hosted, local). */
  workerClaimed: boolean;
  /** The poller follows the job's runs with `getJobStatus` (and `tracking`). */
  polled: boolean;
  /** The job's data leaves the user's own infrastructure (consent applies). */
  dataLeavesInfrastructure: boolean;
}

/** One hardware profile a provider offers, with its price (integer micro-dollars per hour). */
export interface HardwareOption {
  profile: string;
  gpuName: string;
  gpuCount: number;
  microsPerHour: number;
  dollarsPerHour: number;
  dollarsPerSecond: number;
  model?: string;
}

export interface RunContext {
  /** Records the plugin's state for the job before a side effect; throws when the dispatcher lost its claim. */
  saveState(state: unknown): Promise<void>;
  /** Aborted when the dispatcher lost its claim on the job (cancelled, or another replica took over). */
  signal: AbortSignal;
}

/** Where the job is after runJob: `queued` (waiting for a worker or the provider) or already `running`. */
export interface RunResult {
  status: Extract<JobStatus, 'queued' | 'running'>;
  externalId: string | null;
  reason: string;
  /** The provider's run already existed (an earlier attempt created it): poll it at once. */
  adopted?: boolean;
}

export interface ProviderProgress {
  step: number;
  totalSteps?: number | null;
  loss?: number | null;
}

/** A provider run in our terms: the one shape polls, webhooks and finalize all produce. */
export interface ProviderJobStatus {
  status: JobStatus;
  externalId: string;
  /** The timeline reason, e.g. "failed on Replicate: CUDA out of memory". */
  reason: string;
  error?: string;
  billedSeconds?: number;
  /** Billed (or, while running, accrued) cost; null when unknown. */
  costMicros?: Micros | null;
  /** The provider's whole log so far as lines, for providers that report it with the status. */
  logLines?: string[];
  progress?: ProviderProgress | null;
  output?: unknown;
}

/** What a cost estimate needs from the provider: the profile (normalised, default applied), its price, its default table. */
export interface CostBasis {
  hardwareProfile: string | null;
  gpuCount: number | null;
  /** The profile's price for this organisation, all GPUs included; 0 for the organisation's own hardware. */
  microsPerHour: Micros;
  /** The documented guess of how long a run takes on this profile, or null when the provider has none. */
  defaults: EstimateDefaults | null;
}

/** What a submission needs from the provider before a job exists. */
export interface SubmissionInput {
  hardwareProfile: string | null;
  requirements: { labels: string[]; min_gpu_memory_gib?: number };
}
export type SubmissionPlan = SubmissionInput;

export type WebhookFailure = 'missing_headers' | 'bad_signature' | 'stale_timestamp' | 'replayed' | 'malformed' | 'secret_unavailable';
export type WebhookVerdict =
  | { ok: true; webhookId: string; status: ProviderJobStatus }
  | { ok: false; reason: WebhookFailure; detail: string };

/** Atomic "insert if absent" of webhook message ids: true when the id was already seen. */
export interface ReplayGuard {
  seen(webhookId: string): Promise<boolean>;
}

export interface ProviderWebhooks {
  /** Largest body the route reads; anything longer is refused before it is parsed. */
  readonly maxBodyBytes: number;
  /** Verifies a delivery before anything is written; the guard is asked only after the signature held. */
  verify(req: { headers: Readonly<Record<string, string | string[] | undefined>>; rawBody: Buffer }, guard: ReplayGuard): Promise<WebhookVerdict>;
}

export interface TrackingInput {
  /** How many polls of this job came before. */
  n: number;
  job: JobForProvider;
  /** When the provider was last heard from about this job, newest first (verified webhooks). */
  contactsMs: number[];
  nowMs: number;
}

/** When the poller asks the provider about a job (see each plugin for its policy). */
export interface ProviderTracking {
  /** Milliseconds to wait before asking about this job at all; 0 asks now. */
  deferral(input: TrackingInput): number;
  /** Milliseconds until the next poll after one that reached the provider (or was refused with a wait). */
  nextDelay(input: TrackingInput & { foundNews: boolean; retryAfterMs?: number }): number;
  /** A polled job silent for this long lost its chain of polls (e.g. Redis lost it): start a new one. */
  readonly silentAfterMs: number;
}

export interface FinalizeResult {
  /** The run's last status (its final logs and billed cost), when the provider still knows it. */
  status?: ProviderJobStatus | null;
  /** What the clean-up did, for the job's timeline (e.g. "uploaded archive deleted from Replicate"). */
  notes: Array<{ reason: string; data?: Record<string, unknown> }>;
  /** The plugin's state after clean-up. */
  state?: unknown;
}

/**
 * The provider plugin interface (SimpleTuner's CloudTrainerService, grown to everything a service would
 * otherwise have to know about a provider). docs/PROVIDERS.md says what each member must do.
 */
export interface ProviderPlugin {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  validateCredentials(): Promise<{ ok: boolean; account?: Record<string, unknown>; error?: string }>;
  listJobs(limit: number): Promise<ProviderJobStatus[]>;
  runJob(job: JobForProvider, pkg: PackageRef | null, ctx: RunContext): Promise<RunResult>;
  cancelJob(externalId: string): Promise<void>;
  getJobStatus(externalId: string): Promise<ProviderJobStatus | null>;
  getJobLogs(externalId: string): Promise<string[]>;
  /** The price and the default run-time table of the profile a submission would run on (no provider call). */
  costBasis(input: { hardwareProfile: string | null }): CostBasis;
  /** Checks a submission against the provider (configured? profile known?) and fills in its defaults. */
  prepare(input: SubmissionInput): Promise<SubmissionPlan>;
  /** Hardware profiles with prices as this organisation sees them. */
  hardware(): HardwareOption[];
  readonly webhooks?: ProviderWebhooks;
  readonly tracking?: ProviderTracking;
  /** Clean-up at the provider once the job is terminal (stop a cancelled run, delete uploaded data). */
  finalize?(job: JobForProvider): Promise<FinalizeResult>;
}

/**
 * Provider trouble, classified so the queue retries what can succeed later (rate limits with their wait,
 * 5xx, timeouts, network) and fails at once what cannot (bad input, quota, missing destination).
 */
export class ProviderError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** The fields of a job row a plugin sees (structurally a persistence Job). */
export interface JobRowForProvider {
  id: string;
  orgId: string;
  name: string;
  provider: string;
  status: string;
  hardwareProfile: string | null;
  config: unknown;
  dataloader: unknown;
  rewrittenDataloader: unknown;
  externalId: string | null;
  providerState: unknown;
  createdAt: Date;
}

/** A job row as its plugin sees it: the dataloader the trainer gets is the rewritten one (archive paths). */
export function jobForProvider(job: JobRowForProvider): JobForProvider {
  return {
    id: job.id,
    orgId: job.orgId,
    name: job.name,
    provider: job.provider,
    status: job.status as JobStatus,
    hardwareProfile: job.hardwareProfile,
    config: (job.config ?? {}) as Record<string, unknown>,
    dataloader: (job.rewrittenDataloader ?? []) as unknown[],
    externalId: job.externalId,
    state: job.providerState ?? null,
    createdAt: job.createdAt,
  };
}

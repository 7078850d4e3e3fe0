import type { Micros } from '@ct/job-domain';
import type { JobForProvider, PackageRef, ProviderJobStatus, RunResult } from '@ct/providers-core';
import type { PriceOverrides } from './hardware-profiles';
import type { LogProgress, ReplicateStatus } from './replicate-status';

/** pino's shape, reduced to what the plugin calls. */
export interface ReplicateLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
}

/**
 * How far the last `runJob` of a job got, persisted by the caller (see docs/PROVIDERS.md, "No duplicate
 * predictions"). `recordAttempt` is called before each step that has an effect at Replicate; `loadAttempt`
 * returns the last record so a retried `runJob` resumes instead of starting over.
 */
export interface ReplicateAttempt {
  phase: 'uploading' | 'uploaded' | 'creating' | 'created';
  /** ISO time of the first create attempt (findExisting only looks at predictions created after it, minus a skew) */
  attemptedAt: string;
  fileId: string | null;
  fileUrl: string | null;
  /** `owner/name:version` the prediction was (to be) created with */
  version: string | null;
  externalId: string | null;
}

/**
 * What the plugin keeps on the job (`provider_state`, saved through RunContext.saveState): how far the last
 * `runJob` got, and every archive it uploaded (so finalize deletes every copy, including one a crashed
 * dispatcher sent but never recorded, found by its metadata).
 */
export interface ReplicateState {
  attempt?: ReplicateAttempt;
  files?: string[];
  /**
   * An attempt died while uploading, so an upload may exist that nothing recorded: finalize then lists the
   * account's files for the job's metadata. Otherwise it deletes the recorded ones only (listing pages through
   * every recent file of the account: 4 calls per job with 1,000 active jobs, measured).
   */
  unrecordedUpload?: boolean;
}

/** Poll cadence (see poll-cadence.ts). */
export interface PollCadence {
  minMs: number;
  maxMs: number;
  quietMs: number;
}

export interface ReplicatePluginOptions {
  /** null = not configured: every call throws "REPLICATE_API_TOKEN not set …" */
  token: string | null;
  /** default https://api.replicate.com/v1 (must include /v1) */
  baseUrl?: string;
  /** `owner/name:<id>` pins the exact model version; a bare `<id>` pins the version of the job's profile model */
  versionOverride?: string | null;
  /** profile for jobs without `hardwareProfile` (default `h100`) */
  defaultProfile?: string;
  /**
   * Replicate's platform webhook for a job, e.g. `https://ct.example.com/api/webhooks/replicate?job=<id>`;
   * null (or returning null) = no webhooks, polling only.
   */
  webhookUrl?: ((jobId: string) => string | null) | null;
  /** Opens the packaged archive in our storage. */
  openPackage(ref: PackageRef): Promise<NodeJS.ReadableStream>;
  fetch?: typeof fetch;
  logger?: ReplicateLogger;
  /** HF token sent as `hf_token` when the config pushes to the Hub; a function for per-org/per-user tokens */
  hfToken?: string | null | ((job: JobForProvider) => Promise<string | null>);
  /** also send `ct_job_id` as a model input. Off by default: SimpleTuner's predictor does not declare it. */
  jobIdInput?: boolean;
  /** price table overrides (micro-dollars per hour) used for `costMicros` and `costBasis` */
  priceOverrides?: PriceOverrides;
  /** where archives are spooled before upload (default os.tmpdir()) */
  tmpDir?: string;
  /** default 99 999 999: Replicate refuses files of 100 MB (10^8 bytes) or more; see REPLICATE_MAX_UPLOAD_BYTES */
  maxUploadBytes?: number;
  /** our own retry layer over the client's (which does not back off): attempts per call (default 3) */
  retryAttempts?: number;
  /** longest wait between our retries; longer Retry-Afters are handed to the queue instead (default 5 s) */
  maxRetryWaitMs?: number;
  /** poll cadence (default 5 s backing off to 30 s; 300 s quiet with webhooks) */
  cadence?: PollCadence;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ReplicateRunResult extends RunResult {
  externalId: string;
  /** the uploaded archive: delete it with `deleteFile` once the job is terminal (it expires after 24 h anyway) */
  fileId: string | null;
  fileUrl: string | null;
  version: string;
  profile: string;
  /** true when an earlier attempt's prediction was found and returned instead of creating one */
  resumed: boolean;
}

export interface ReplicateJobStatus extends ProviderJobStatus {
  replicateStatus: ReplicateStatus | string;
  /** full log text so far ('' when none) */
  logs: string;
  logLines: string[];
  output: unknown;
  progress: LogProgress | null;
  profile: string | null;
  /** billedSeconds × the profile's price, rounded up; null when the profile is unknown */
  costMicros: Micros | null;
  createdAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  /** the `input.images` URL; the file id is its last path segment */
  fileUrl: string | null;
  webhook: string | null;
}

/** The fields of a Replicate prediction the plugin reads; everything else is ignored. */
export interface PredictionLike {
  id: string;
  status: string;
  model?: string;
  version?: string;
  input?: Record<string, unknown> | object | null;
  output?: unknown;
  error?: unknown;
  logs?: string | null;
  metrics?: { predict_time?: number; total_time?: number } | null;
  webhook?: string | null;
  created_at?: string | null;
  started_at?: string | null;
  completed_at?: string | null;
}

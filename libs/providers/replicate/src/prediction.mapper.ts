import type { JobForProvider } from '@ct/providers-core';
import { costOf, profileOfModel, type PriceOverrides } from './hardware-profiles';
import { describeStatus, progressFromLogs, toJobStatus } from './replicate-status';
import type { PredictionLike, ReplicateJobStatus } from './replicate.types';

export const JOB_ID_PLACEHOLDER = '{jobId}';
export const JOB_ID_QUERY = 'ct_job';

/**
 * The job's webhook URL: deterministic per job, so it doubles as the marker findExisting looks for, and
 * the gateway learns the job from it without trusting the body.
 */
export function webhookFor(template: string, jobId: string): string {
  if (template.includes(JOB_ID_PLACEHOLDER)) return template.split(JOB_ID_PLACEHOLDER).join(encodeURIComponent(jobId));
  const url = new URL(template);
  url.searchParams.set(JOB_ID_QUERY, jobId);
  return url.toString();
}

function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', '1', 'yes'].includes(v.toLowerCase()));
}

/** SimpleTuner configs use bare keys or CLI-style `--key` keys. */
function configValue(config: Record<string, unknown>, key: string): unknown {
  return config[key] ?? config[`--${key}`];
}

export interface PredictionInputArgs {
  job: JobForProvider;
  fileUrl: string;
  hfToken: string | null;
  jobIdInput: boolean;
}

/** Inputs of SimpleTuner's predictor (predict.py): JSON strings for the config and dataloader, the archive URL. */
export function buildInput({ job, fileUrl, hfToken, jobIdInput }: PredictionInputArgs): Record<string, unknown> {
  const input: Record<string, unknown> = {
    images: fileUrl,
    config_json: JSON.stringify(job.config),
    dataloader_json: JSON.stringify(job.dataloader),
  };
  const hubModelId = configValue(job.config, 'hub_model_id');
  if (truthy(configValue(job.config, 'push_to_hub')) && hfToken) {
    input.hf_token = hfToken;
    if (typeof hubModelId === 'string' && hubModelId !== '') input.hub_model_id = hubModelId;
  }
  if (jobIdInput) input.ct_job_id = job.id;
  return input;
}

export interface JobMarker {
  jobId: string;
  webhook: string | null;
  fileUrl: string | null;
}

/**
 * Does this prediction belong to the job? Any one marker is enough: our webhook URL (unique per job), the
 * archive URL (unique per upload), or the optional `ct_job_id` input. Predictions whose input was already
 * removed (API predictions lose it after an hour) can only match on the webhook.
 */
export function matchesJob(p: PredictionLike, marker: JobMarker): boolean {
  const input = (p.input ?? {}) as Record<string, unknown>;
  if (marker.webhook !== null && p.webhook === marker.webhook) return true;
  if (marker.fileUrl !== null && input.images === marker.fileUrl) return true;
  return input.ct_job_id === marker.jobId;
}

function errorText(error: unknown): string | null {
  if (error === null || error === undefined || error === '') return null;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/**
 * A prediction in our terms; shared by getJobStatus, listJobs and the webhook path. Cost: the billed seconds
 * (`metrics.predict_time`) once Replicate reports them; while it is processing, the seconds since
 * `started_at` (what predict_time will count), so a running job shows the cost accrued so far.
 */
export function statusOfPrediction(p: PredictionLike, overrides?: PriceOverrides, nowMs = Date.now()): ReplicateJobStatus {
  const error = errorText(p.error);
  const billed = p.metrics?.predict_time;
  const started = p.started_at ? Date.parse(p.started_at) : NaN;
  const costSeconds = typeof billed === 'number' ? billed : p.status === 'processing' && Number.isFinite(started) ? Math.max(0, (nowMs - started) / 1000) : undefined;
  const profile = profileOfModel(p.model);
  const logs = p.logs ?? '';
  const input = (p.input ?? {}) as Record<string, unknown>;
  return {
    status: toJobStatus(p.status),
    externalId: p.id,
    ...(error !== null ? { error } : {}),
    ...(typeof billed === 'number' ? { billedSeconds: billed } : {}),
    replicateStatus: p.status,
    reason: describeStatus(p.status, error),
    logs,
    logLines: storedLogLines(logs),
    output: p.output ?? null,
    progress: progressFromLogs(logs),
    profile: profile?.profile ?? null,
    costMicros: profile && costSeconds !== undefined ? costOf(profile.profile, costSeconds, overrides) : null,
    createdAt: p.created_at ?? null,
    startedAt: p.started_at ?? null,
    completedAt: p.completed_at ?? null,
    fileUrl: typeof input.images === 'string' ? input.images : null,
    webhook: p.webhook ?? null,
  };
}

/**
 * The lines of the log that are stored as the job's provider log: `\r` ends a line too (tqdm redraws) and
 * empty lines are dropped. Replicate sends the whole log every time; the count of these lines is how far
 * the job's stored log got.
 */
export function storedLogLines(logs: string): string[] {
  return logs ? logs.replace(/\r/g, '\n').split('\n').filter((l) => l.length > 0) : [];
}

/** Log text as lines; `\r` ends a line too (tqdm redraws), trailing empties dropped. */
export function logLines(logs: string): string[] {
  const lines = logs.split(/\r\n|\r|\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Replicate file URLs are `<base>/files/<id>`. */
export function fileIdFromUrl(url: string | null): string | null {
  if (!url) return null;
  const m = /\/files\/([^/?#]+)/.exec(url);
  return m?.[1] ?? null;
}

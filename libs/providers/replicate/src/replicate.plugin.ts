import type { CostBasis, FinalizeResult, HardwareOption, JobForProvider, PackageRef, ProviderCapabilities, ProviderPlugin, RunContext, SubmissionInput, SubmissionPlan } from '@ct/providers-core';
import { DomainError } from '@ct/job-domain';
import { DEFAULT_PROFILE, defaultRunTimes, listHardwareOptions, microsPerHourOf, modelOf, profileOfModel, resolveProfile, type HardwareProfile } from './hardware-profiles';
import { PackageUploader } from './package-uploader.service';
import { fileIdFromUrl, logLines, statusOfPrediction } from './prediction.mapper';
import { MISSING_TOKEN_MESSAGE, ReplicateApi } from './replicate-client';
import { ReplicateProviderError } from './replicate-errors';
import { findPrediction, ReplicateRun } from './replicate-run';
import { DEFAULT_CADENCE, ReplicateTracking } from './replicate-tracking';
import { ReplicateWebhooks } from './replicate-webhooks';
import type { PredictionLike, ReplicateJobStatus, ReplicatePluginOptions, ReplicateRunResult, ReplicateState } from './replicate.types';

export { DEFAULT_BASE_URL, MISSING_TOKEN_MESSAGE } from './replicate-client';
/**
 * Replicate's Files API answers 413 "Files must be less than 100MB in size", and the simulator (like the OAS)
 * reads that as 100 000 000 bytes. The issue says "at most 100 MiB" (104 857 600); between the two an upload
 * would pass our check and then fail at Replicate after sending ~100 MB, so the default is the stricter one.
 */
export const REPLICATE_MAX_UPLOAD_BYTES = 99_999_999;
const VERSION_TTL_MS = 5 * 60_000;

/**
 * SimpleTuner's trainer on Replicate (`simpletuner/advanced-trainer-<profile>`): upload the archive with the
 * Files API, create a prediction, follow it by webhook or polling, clean up at the end. docs/PROVIDERS.md
 * has the protocol.
 */
export class ReplicatePlugin implements ProviderPlugin {
  readonly name = 'replicate';
  readonly capabilities: ProviderCapabilities;
  readonly webhooks: ReplicateWebhooks;
  readonly tracking: ReplicateTracking;
  private readonly api: ReplicateApi;
  private readonly uploader: PackageUploader;
  private readonly versions = new Map<string, { version: string; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: ReplicatePluginOptions) {
    const maxUploadBytes = opts.maxUploadBytes ?? REPLICATE_MAX_UPLOAD_BYTES;
    this.capabilities = { costTracking: true, liveLogs: true, webhooks: true, maxUploadBytes, uploadsPackage: true, workerClaimed: false, polled: true, dataLeavesInfrastructure: true };
    this.api = new ReplicateApi(opts);
    this.uploader = new PackageUploader({ openPackage: opts.openPackage, maxBytes: maxUploadBytes, tmpDir: opts.tmpDir });
    this.now = opts.now ?? Date.now;
    this.webhooks = new ReplicateWebhooks(() => this.fetchWebhookSecret(), (p) => this.toStatus(p), opts.now);
    this.tracking = new ReplicateTracking(opts.cadence ?? DEFAULT_CADENCE, !!opts.webhookUrl);
  }

  async validateCredentials(): Promise<{ ok: boolean; account?: Record<string, unknown>; error?: string }> {
    try {
      const account = await this.api.call('check the token', (c) => c.accounts.current());
      return { ok: true, account: { ...account } };
    } catch (err) {
      if (err instanceof ReplicateProviderError && !err.retryable) return { ok: false, error: err.message };
      throw err;
    }
  }

  async prepare(input: SubmissionInput): Promise<SubmissionPlan> {
    if (!this.api.configured) throw new DomainError('provider_not_configured', MISSING_TOKEN_MESSAGE, { provider: 'replicate', setting: 'REPLICATE_API_TOKEN' });
    const profile = resolveProfile(input.hardwareProfile ?? this.opts.defaultProfile ?? DEFAULT_PROFILE);
    return { ...input, hardwareProfile: profile.profile };
  }

  hardware(): HardwareOption[] {
    return listHardwareOptions(this.opts.priceOverrides);
  }

  async listJobs(limit: number): Promise<ReplicateJobStatus[]> {
    const client = this.api.raw();
    const out: ReplicateJobStatus[] = [];
    for await (const page of client.paginate(() => client.predictions.list())) {
      for (const p of page as PredictionLike[]) if (this.isOurs(p) && out.length < limit) out.push(this.toStatus(p));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Upload + create, never twice for one job (see ReplicateRun); a prediction found from an earlier attempt is adopted. */
  async runJob(job: JobForProvider, pkg: PackageRef | null, ctx: RunContext): Promise<ReplicateRunResult> {
    if (!pkg) throw new ReplicateProviderError('Replicate: the job has no packaged archive to upload', false, undefined, null);
    this.uploader.checkSize(pkg);
    const profile = resolveProfile(job.hardwareProfile ?? this.opts.defaultProfile ?? DEFAULT_PROFILE);
    const run = new ReplicateRun(this.runnerDeps(), job, ctx);
    const resumed = await run.resume();
    if (resumed) return this.runResult(resumed, profile, run.prior?.version ?? resumed.version ?? '', run.prior ?? { fileId: null, fileUrl: null }, true);
    const attemptedAt = run.prior?.attemptedAt ?? new Date(this.now()).toISOString();
    const file = await run.ensureUpload(pkg, attemptedAt);
    const version = await this.resolveVersion(profile);
    const p = await run.create({ phase: 'creating', attemptedAt, ...file, version, externalId: null });
    this.opts.logger?.info({ jobId: job.id, externalId: p.id, version, fileId: file.fileId }, 'replicate prediction created');
    return this.runResult(p, profile, version, file, false);
  }

  /** The prediction an earlier attempt created for the job, if any. */
  findExisting(jobId: string, hint?: { attemptedAt: string; fileUrl: string | null } | null): Promise<PredictionLike | null> {
    return findPrediction(this.api.raw(), jobId, this.opts.webhookUrl?.(jobId) ?? null, hint ?? null, this.now());
  }

  async cancelJob(externalId: string): Promise<void> {
    await this.api.orNull('cancel the prediction', (c) => c.predictions.cancel(externalId));
  }

  async getJobStatus(externalId: string): Promise<ReplicateJobStatus | null> {
    const p = await this.api.orNull('get the prediction', (c) => c.predictions.get(externalId));
    return p ? this.toStatus(p as PredictionLike) : null;
  }

  async getJobLogs(externalId: string): Promise<string[]> {
    const status = await this.getJobStatus(externalId);
    return status ? logLines(status.logs) : [];
  }

  /**
   * Terminal: stop the run if it was cancelled here, read its final logs and billed cost, and delete every
   * archive uploaded for the job (the recorded ones, and any upload carrying its metadata that a crashed
   * attempt never recorded).
   */
  async finalize(job: JobForProvider): Promise<FinalizeResult> {
    const state = (job.state as ReplicateState | null) ?? {};
    const notes: FinalizeResult['notes'] = [];
    let status: ReplicateJobStatus | null = null;
    if (job.externalId) {
      if (job.status === 'cancelled') await this.cancelJob(job.externalId);
      status = await this.getJobStatus(job.externalId);
    }
    let listed: Array<{ id: string }> = [];
    if (state.unrecordedUpload || state.attempt?.phase === 'uploading') {
      const since = Date.parse(state.attempt?.attemptedAt ?? job.createdAt.toISOString()) - 10 * 60_000;
      listed = await this.api.call('list the uploaded archives', (c) => this.uploader.findUploads(c, job.id, since));
    }
    const files = [...new Set([...(state.files ?? []), ...listed.map((f) => f.id)])];
    for (const fileId of files) {
      const deleted = (await this.api.orNull('delete the uploaded archive', (c) => c.files.delete(fileId))) ?? false;
      notes.push({ reason: deleted ? `uploaded archive deleted from Replicate (file ${fileId})` : `uploaded archive was already gone from Replicate (file ${fileId})`, data: { fileId, deleted } });
    }
    return { status, notes, state: { ...state, files: [], unrecordedUpload: false } };
  }

  /** Deletes an uploaded archive; false when it was already gone. */
  async deleteFile(fileId: string): Promise<boolean> {
    return (await this.api.orNull('delete the uploaded archive', (c) => c.files.delete(fileId))) ?? false;
  }

  /** The account's `whsec_…` signing secret (`GET /v1/webhooks/default/secret`). */
  async fetchWebhookSecret(): Promise<string> {
    const s = await this.api.call('get the webhook signing secret', (c) => c.webhooks.default.secret.get());
    return s.key;
  }

  /** A verified webhook body (the full prediction object) in our terms. */
  statusFromWebhook(event: PredictionLike): ReplicateJobStatus {
    return this.toStatus(event);
  }

  costBasis(input: { hardwareProfile: string | null }): CostBasis {
    const profile = resolveProfile(input.hardwareProfile ?? this.opts.defaultProfile ?? DEFAULT_PROFILE);
    return { hardwareProfile: profile.profile, gpuCount: profile.gpuCount, microsPerHour: microsPerHourOf(profile.profile, this.opts.priceOverrides), defaults: defaultRunTimes(profile) };
  }

  /** `owner/name:id`: the override, else the newest version of the profile's model (cached 5 min). */
  async resolveVersion(profile: HardwareProfile): Promise<string> {
    const model = modelOf(profile);
    const override = this.opts.versionOverride?.trim();
    if (override) return override.includes(':') ? override : `${model.full}:${override}`;
    const cached = this.versions.get(model.full);
    if (cached && this.now() - cached.at < VERSION_TTL_MS) return cached.version;
    const page = await this.api.call(`list the versions of ${model.full}`, (c) => c.models.versions.list(model.owner, model.name));
    const newest = [...page.results].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
    if (!newest) throw new ReplicateProviderError(`Replicate: ${model.full} has no versions`, false, undefined, null);
    const version = `${model.full}:${newest.id}`;
    this.versions.set(model.full, { version, at: this.now() });
    return version;
  }

  private runnerDeps() {
    return {
      api: this.api, uploader: this.uploader, webhookUrl: (id: string) => this.opts.webhookUrl?.(id) ?? null, hfToken: this.opts.hfToken,
      jobIdInput: this.opts.jobIdInput ?? false, retryAttempts: this.opts.retryAttempts ?? 3, logger: this.opts.logger, now: this.now,
    };
  }

  /** A resumed prediction that already ended is reported `queued` and `adopted`: the poller catches up at once. */
  private runResult(p: PredictionLike, profile: HardwareProfile, version: string, file: { fileId: string | null; fileUrl: string | null }, resumed: boolean): ReplicateRunResult {
    const s = this.toStatus(p);
    const status = s.status === 'running' ? 'running' : 'queued';
    const fileId = file.fileId ?? fileIdFromUrl(file.fileUrl);
    return { status, externalId: p.id, reason: s.reason, fileId, fileUrl: file.fileUrl, version, profile: profile.profile, resumed, adopted: resumed };
  }

  private toStatus(p: PredictionLike): ReplicateJobStatus {
    return statusOfPrediction(p, this.opts.priceOverrides);
  }

  private isOurs(p: PredictionLike): boolean {
    const override = this.opts.versionOverride?.split(':')[0];
    return profileOfModel(p.model) !== null || (!!override && override.includes('/') && p.model === override);
  }
}

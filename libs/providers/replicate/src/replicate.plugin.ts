import Replicate from 'replicate';
import { DomainError } from '@ct/job-domain';
import type { JobForProvider, PackageRef, ProviderCapabilities, ProviderPlugin } from '@ct/providers-core';
import { DEFAULT_PROFILE, microsPerHourOf, modelOf, profileOfModel, resolveProfile, type HardwareProfile } from './hardware-profiles';
import { PackageUploader } from './package-uploader.service';
import { CLOCK_SKEW_MS, PredictionFinder } from './prediction-finder.service';
import { buildInput, fileIdFromUrl, logLines, statusOfPrediction, webhookFor } from './prediction.mapper';
import { classifyError, ReplicateProviderError } from './replicate-errors';
import { guardCreates } from './resend.guard';
import type { PredictionLike, ReplicateAttempt, ReplicateJobStatus, ReplicatePluginOptions, ReplicateRunResult } from './replicate.types';

export const DEFAULT_BASE_URL = 'https://api.replicate.com/v1';
/**
 * Replicate's Files API answers 413 "Files must be less than 100MB in size", and the simulator (like the OAS)
 * reads that as 100 000 000 bytes. The issue says "at most 100 MiB" (104 857 600); between the two an upload
 * would pass our check and then fail at Replicate after sending ~100 MB, so the default is the stricter one.
 */
export const REPLICATE_MAX_UPLOAD_BYTES = 99_999_999;
export const MISSING_TOKEN_MESSAGE =
  'REPLICATE_API_TOKEN not set: set the REPLICATE_API_TOKEN environment variable for the dispatcher, poller and gateway, ' +
  'or store a token with PUT /api/cloud/providers/replicate/config {"token":"r8_..."}.';
const VERSION_TTL_MS = 5 * 60_000;

/** Replicate's 404 means "gone" for get/cancel/delete: an answer, not a failure. */
function isNotFound(err: unknown): boolean {
  return err instanceof ReplicateProviderError && err.status === 404;
}

/**
 * SimpleTuner's trainer on Replicate (`simpletuner/advanced-trainer-<profile>`): upload the archive with the
 * Files API, create a prediction, follow it by webhook or polling. docs/PROVIDERS.md has the protocol.
 */
export class ReplicatePlugin implements ProviderPlugin {
  readonly name = 'replicate';
  readonly capabilities: ProviderCapabilities;
  private readonly client: Replicate | null;
  private readonly uploader: PackageUploader;
  private readonly versions = new Map<string, { version: string; at: number }>();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: ReplicatePluginOptions) {
    const maxUploadBytes = opts.maxUploadBytes ?? REPLICATE_MAX_UPLOAD_BYTES;
    this.capabilities = { costTracking: true, liveLogs: true, webhooks: true, maxUploadBytes, uploadsPackage: true };
    const fetchFn = guardCreates(opts.fetch ?? globalThis.fetch);
    this.client = opts.token ? new Replicate({ auth: opts.token, baseUrl: opts.baseUrl ?? DEFAULT_BASE_URL, fetch: fetchFn }) : null;
    this.uploader = new PackageUploader({ openPackage: opts.openPackage, maxBytes: maxUploadBytes, tmpDir: opts.tmpDir });
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async validateCredentials(): Promise<{ ok: boolean; account?: Record<string, unknown>; error?: string }> {
    try {
      const account = await this.call('check the token', (c) => c.accounts.current());
      return { ok: true, account: { ...account } };
    } catch (err) {
      if (err instanceof ReplicateProviderError && !err.retryable) return { ok: false, error: err.message };
      throw err;
    }
  }

  async listJobs(limit: number): Promise<ReplicateJobStatus[]> {
    const client = this.api();
    const out: ReplicateJobStatus[] = [];
    try {
      for await (const page of client.paginate(() => client.predictions.list())) {
        for (const p of page as PredictionLike[]) if (this.isOurs(p) && out.length < limit) out.push(this.toStatus(p));
        if (out.length >= limit) break;
      }
    } catch (err) {
      throw classifyError(err, 'list predictions');
    }
    return out;
  }

  /**
   * Upload + create, never twice for one job: every step is recorded through `recordAttempt` before it
   * has an effect, and a retried call resumes from `loadAttempt` (see docs/PROVIDERS.md).
   */
  async runJob(job: JobForProvider, pkg: PackageRef | null): Promise<ReplicateRunResult> {
    const client = this.api();
    if (!pkg) throw new ReplicateProviderError('Replicate: the job has no packaged archive to upload', false, undefined, null);
    this.uploader.checkSize(pkg);
    const profile = resolveProfile(job.hardwareProfile ?? this.opts.defaultProfile ?? DEFAULT_PROFILE);
    const prior = (await this.opts.loadAttempt?.(job.id)) ?? null;
    const resumed = await this.resume(job, profile, prior);
    if (resumed) return resumed;
    const attemptedAt = prior?.attemptedAt ?? new Date(this.now()).toISOString();
    const file = await this.ensureUpload(client, job, pkg, prior, attemptedAt);
    const version = await this.resolveVersion(profile);
    const attempt: ReplicateAttempt = { phase: 'creating', attemptedAt, ...file, version, externalId: null };
    await this.record(job.id, attempt);
    const p = await this.createOnce(client, job, attempt);
    await this.record(job.id, { ...attempt, phase: 'created', externalId: p.id });
    this.opts.logger?.info({ jobId: job.id, externalId: p.id, version, fileId: file.fileId }, 'replicate prediction created');
    return this.runResult(p, profile, version, file, false);
  }

  /** The prediction an earlier attempt created for the job, if any (by webhook URL, archive URL or ct_job_id). */
  async findExisting(jobId: string, hint?: Pick<ReplicateAttempt, 'attemptedAt' | 'fileUrl'> | null): Promise<PredictionLike | null> {
    const client = this.api();
    const webhook = this.opts.webhookUrl ? webhookFor(this.opts.webhookUrl, jobId) : null;
    const since = hint ? Date.parse(hint.attemptedAt) - CLOCK_SKEW_MS : this.now() - 24 * 3_600_000;
    try {
      return await new PredictionFinder(client).find({ jobId, webhook, fileUrl: hint?.fileUrl ?? null }, { sinceMs: since });
    } catch (err) {
      throw classifyError(err, 'look for an earlier prediction');
    }
  }

  async cancelJob(externalId: string): Promise<void> {
    try {
      await this.call('cancel the prediction', (c) => c.predictions.cancel(externalId));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async getJobStatus(externalId: string): Promise<ReplicateJobStatus | null> {
    try {
      return this.toStatus(await this.call('get the prediction', (c) => c.predictions.get(externalId)));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async getJobLogs(externalId: string): Promise<string[]> {
    const status = await this.getJobStatus(externalId);
    return status ? logLines(status.logs) : [];
  }

  /** Deletes an uploaded archive; false when it was already gone. Call when the job is terminal. */
  async deleteFile(fileId: string): Promise<boolean> {
    try {
      return await this.call('delete the uploaded archive', (c) => c.files.delete(fileId));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** The account's `whsec_…` signing secret (`GET /v1/webhooks/default/secret`). */
  async fetchWebhookSecret(): Promise<string> {
    const s = await this.call('get the webhook signing secret', (c) => c.webhooks.default.secret.get());
    return s.key;
  }

  /** A verified webhook body (the full prediction object) in our terms. */
  statusFromWebhook(event: PredictionLike): ReplicateJobStatus {
    return this.toStatus(event);
  }

  async estimateCost(job: JobForProvider): Promise<{ microsPerSecond: bigint; estimatedSeconds: number | null }> {
    const perHour = microsPerHourOf(job.hardwareProfile ?? this.opts.defaultProfile ?? DEFAULT_PROFILE, this.opts.priceOverrides);
    // per-second rates are not whole micro-dollars (L40S: 972.2); round up so estimates never undershoot
    return { microsPerSecond: (perHour + 3599n) / 3600n, estimatedSeconds: null };
  }

  /** `owner/name:id`: the override, else the newest version of the profile's model (cached 5 min). */
  async resolveVersion(profile: HardwareProfile): Promise<string> {
    const model = modelOf(profile);
    const override = this.opts.versionOverride?.trim();
    if (override) return override.includes(':') ? override : `${model.full}:${override}`;
    const cached = this.versions.get(model.full);
    if (cached && this.now() - cached.at < VERSION_TTL_MS) return cached.version;
    const page = await this.call(`list the versions of ${model.full}`, (c) => c.models.versions.list(model.owner, model.name));
    const newest = [...page.results].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
    if (!newest) throw new ReplicateProviderError(`Replicate: ${model.full} has no versions`, false, undefined, null);
    const version = `${model.full}:${newest.id}`;
    this.versions.set(model.full, { version, at: this.now() });
    return version;
  }

  private api(): Replicate {
    if (!this.client) throw new DomainError('validation_failed', MISSING_TOKEN_MESSAGE, { provider: 'replicate', setting: 'REPLICATE_API_TOKEN' });
    return this.client;
  }

  /** Our retry layer: the client re-sends 429s (and 5xx on GET) back to back with no pause. */
  private async call<T>(what: string, fn: (c: Replicate) => Promise<T>): Promise<T> {
    const client = this.api();
    const attempts = this.opts.retryAttempts ?? 3;
    for (let i = 1; ; i++) {
      try {
        return await fn(client);
      } catch (err) {
        const e = classifyError(err, what);
        const wait = this.backoff(i, e.retryAfterMs);
        if (!e.retryable || e.ambiguous || i >= attempts || wait === null) throw e;
        await this.sleep(wait);
      }
    }
  }

  /** null: longer than we will wait in-process; the queue should re-delay the step by `retryAfterMs`. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number | null {
    const wait = Math.max(retryAfterMs ?? 0, 250 * 2 ** attempt);
    return wait > (this.opts.maxRetryWaitMs ?? 5_000) ? null : wait;
  }

  /** Creates the prediction; after an answer that may hide a created prediction, looks before re-sending. */
  private async createOnce(client: Replicate, job: JobForProvider, attempt: ReplicateAttempt): Promise<PredictionLike> {
    const hfToken = typeof this.opts.hfToken === 'function' ? await this.opts.hfToken(job) : (this.opts.hfToken ?? null);
    const input = buildInput({ job, fileUrl: attempt.fileUrl ?? '', hfToken, jobIdInput: this.opts.jobIdInput ?? false });
    const webhook = this.opts.webhookUrl ? webhookFor(this.opts.webhookUrl, job.id) : undefined;
    const body = { version: attempt.version ?? '', input, ...(webhook ? { webhook, webhook_events_filter: ['start', 'logs', 'completed'] as Array<'start' | 'logs' | 'completed'> } : {}) };
    const attempts = this.opts.retryAttempts ?? 3;
    for (let i = 1; ; i++) {
      try {
        return (await client.predictions.create(body)) as PredictionLike;
      } catch (err) {
        const e = classifyError(err, 'create the prediction');
        if (e.ambiguous || (e.status !== null && e.status >= 500)) {
          this.opts.logger?.warn({ jobId: job.id, error: e.message }, 'replicate create answer lost; looking for the prediction');
          const found = await this.findExisting(job.id, attempt);
          if (found) return found;
        }
        const wait = this.backoff(i, e.retryAfterMs);
        if (!e.retryable || i >= attempts || wait === null) throw e;
        await this.sleep(wait);
      }
    }
  }

  private async resume(job: JobForProvider, profile: HardwareProfile, prior: ReplicateAttempt | null): Promise<ReplicateRunResult | null> {
    if (!prior || (prior.phase !== 'creating' && prior.phase !== 'created')) return null;
    const found = prior.externalId ? await this.getPrediction(prior.externalId) : await this.findExisting(job.id, prior);
    if (!found) return null;
    if (!prior.externalId) await this.record(job.id, { ...prior, phase: 'created', externalId: found.id });
    this.opts.logger?.warn({ jobId: job.id, externalId: found.id }, 'replicate prediction of an earlier attempt found; not creating another');
    return this.runResult(found, profile, prior.version ?? found.version ?? '', prior, true);
  }

  private async getPrediction(id: string): Promise<PredictionLike | null> {
    try {
      return await this.call('get the prediction', (c) => c.predictions.get(id));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private async ensureUpload(client: Replicate, job: JobForProvider, pkg: PackageRef, prior: ReplicateAttempt | null, attemptedAt: string): Promise<{ fileId: string; fileUrl: string }> {
    if (prior?.fileId && prior.fileUrl && (await this.call('check the uploaded archive', (c) => this.uploader.stillThere(c, prior.fileId ?? '')))) {
      return { fileId: prior.fileId, fileUrl: prior.fileUrl };
    }
    const base: ReplicateAttempt = { phase: 'uploading', attemptedAt, fileId: null, fileUrl: null, version: null, externalId: null };
    await this.record(job.id, base);
    let uploaded;
    try {
      uploaded = await this.uploader.upload(client, job, pkg);
    } catch (err) {
      throw classifyError(err, 'upload the packaged archive');
    }
    const file = { fileId: uploaded.fileId, fileUrl: uploaded.fileUrl };
    await this.record(job.id, { ...base, phase: 'uploaded', ...file });
    this.opts.logger?.info({ jobId: job.id, fileId: file.fileId, bytes: uploaded.bytes }, 'archive uploaded to replicate');
    return file;
  }

  /** RunResult only knows queued|running: a resumed prediction that already ended is reported `queued` and the poller catches up. */
  private runResult(p: PredictionLike, profile: HardwareProfile, version: string, file: { fileId: string | null; fileUrl: string | null }, resumed: boolean): ReplicateRunResult {
    const s = this.toStatus(p);
    const status = s.status === 'running' ? 'running' : 'queued';
    const fileId = file.fileId ?? fileIdFromUrl(file.fileUrl);
    return { status, externalId: p.id, reason: s.reason, fileId, fileUrl: file.fileUrl, version, profile: profile.profile, resumed };
  }

  private async record(jobId: string, attempt: ReplicateAttempt): Promise<void> {
    await this.opts.recordAttempt?.(jobId, attempt);
  }

  private toStatus(p: PredictionLike): ReplicateJobStatus {
    return statusOfPrediction(p, this.opts.priceOverrides);
  }

  private isOurs(p: PredictionLike): boolean {
    const override = this.opts.versionOverride?.split(':')[0];
    return profileOfModel(p.model) !== null || (!!override && override.includes('/') && p.model === override);
  }
}

import type Replicate from 'replicate';
import type { JobForProvider, PackageRef, RunContext } from '@ct/providers-core';
import type { PackageUploader } from './package-uploader.service';
import { CLOCK_SKEW_MS, PredictionFinder } from './prediction-finder.service';
import { buildInput } from './prediction.mapper';
import type { ReplicateApi } from './replicate-client';
import { classifyError } from './replicate-errors';
import type { PredictionLike, ReplicateAttempt, ReplicateLogger, ReplicateState } from './replicate.types';

export interface RunnerDeps {
  api: ReplicateApi;
  uploader: PackageUploader;
  webhookUrl: (jobId: string) => string | null;
  hfToken?: string | null | ((job: JobForProvider) => Promise<string | null>);
  jobIdInput: boolean;
  retryAttempts: number;
  logger?: ReplicateLogger;
  now: () => number;
}

/**
 * One `runJob`: upload + create, never twice for a job. Every step is saved in the job's state before it
 * has an effect, so a retried call (or another dispatcher after a crash) resumes instead of starting over:
 * a created prediction is adopted whatever its status, an upload in flight is looked up by its metadata.
 */
export class ReplicateRun {
  private state: ReplicateState;

  constructor(private readonly d: RunnerDeps, private readonly job: JobForProvider, private readonly ctx: RunContext) {
    this.state = { ...((job.state as ReplicateState | null) ?? {}) };
  }

  get prior(): ReplicateAttempt | null {
    return this.state.attempt ?? null;
  }

  /** The prediction an earlier attempt created, if there is one. */
  async resume(): Promise<PredictionLike | null> {
    const prior = this.prior;
    if (!prior || (prior.phase !== 'creating' && prior.phase !== 'created')) return null;
    const found = prior.externalId ? await this.d.api.orNull('get the prediction', (c) => c.predictions.get(prior.externalId ?? '')) : await this.find(prior);
    if (!found) return null;
    if (!prior.externalId) await this.save({ attempt: { ...prior, phase: 'created', externalId: found.id } });
    this.d.logger?.warn({ jobId: this.job.id, externalId: found.id, status: found.status }, 'replicate prediction of an earlier attempt found; adopting it');
    return found as PredictionLike;
  }

  /** The uploaded archive: an earlier attempt's when Replicate still has it, else a new upload. */
  async ensureUpload(pkg: PackageRef, attemptedAt: string): Promise<{ fileId: string; fileUrl: string }> {
    const client = this.d.api.raw();
    const prior = this.prior;
    if (prior?.fileId && prior.fileUrl && (await this.d.api.call('check the uploaded archive', (c) => this.d.uploader.stillThere(c, prior.fileId ?? '')))) {
      return { fileId: prior.fileId, fileUrl: prior.fileUrl };
    }
    if (prior?.phase === 'uploading') {
      // The last attempt died while uploading: its upload may have arrived without us learning its id.
      const since = Date.parse(prior.attemptedAt) - CLOCK_SKEW_MS;
      // Kept even when a copy is found below: the dying request may still land after this listing.
      await this.save({ unrecordedUpload: true });
      const copies = await this.d.api.call('look for an earlier upload', (c) => this.d.uploader.findUploads(c, this.job.id, since));
      if (copies.length) {
        await this.save({ files: [...new Set([...(this.state.files ?? []), ...copies.map((f) => f.id)])] });
        const newest = copies[0];
        if (newest) {
          this.d.logger?.warn({ jobId: this.job.id, fileId: newest.id, copies: copies.length }, 'earlier upload of the archive found; reusing it');
          await this.save({ attempt: { phase: 'uploaded', attemptedAt, fileId: newest.id, fileUrl: newest.url, version: null, externalId: null } });
          return { fileId: newest.id, fileUrl: newest.url };
        }
      }
    }
    await this.save({ attempt: { phase: 'uploading', attemptedAt, fileId: null, fileUrl: null, version: null, externalId: null } });
    let uploaded;
    try {
      uploaded = await this.d.uploader.upload(client, this.job, pkg, this.ctx.signal);
    } catch (err) {
      throw classifyError(err, 'upload the packaged archive');
    }
    const file = { fileId: uploaded.fileId, fileUrl: uploaded.fileUrl };
    await this.save({ files: [...(this.state.files ?? []), file.fileId], attempt: { phase: 'uploaded', attemptedAt, ...file, version: null, externalId: null } });
    this.d.logger?.info({ jobId: this.job.id, fileId: file.fileId, bytes: uploaded.bytes }, 'archive uploaded to replicate');
    return file;
  }

  /** Creates the prediction once; after an answer that may hide a created prediction, looks before re-sending. */
  async create(attempt: ReplicateAttempt): Promise<PredictionLike> {
    await this.save({ attempt });
    this.ctx.signal.throwIfAborted();
    const client = this.d.api.raw();
    const hfToken = typeof this.d.hfToken === 'function' ? await this.d.hfToken(this.job) : (this.d.hfToken ?? null);
    const input = buildInput({ job: this.job, fileUrl: attempt.fileUrl ?? '', hfToken, jobIdInput: this.d.jobIdInput });
    const webhook = this.d.webhookUrl(this.job.id);
    const body = { version: attempt.version ?? '', input, ...(webhook ? { webhook, webhook_events_filter: ['start', 'logs', 'completed'] as Array<'start' | 'logs' | 'completed'> } : {}) };
    for (let i = 1; ; i++) {
      try {
        const p = (await client.predictions.create(body)) as PredictionLike;
        await this.save({ attempt: { ...attempt, phase: 'created', externalId: p.id } });
        return p;
      } catch (err) {
        const e = classifyError(err, 'create the prediction');
        if (e.ambiguous || (e.status !== null && e.status >= 500)) {
          this.d.logger?.warn({ jobId: this.job.id, error: e.message }, 'replicate create answer lost; looking for the prediction');
          const found = await this.find(attempt);
          if (found) {
            await this.save({ attempt: { ...attempt, phase: 'created', externalId: found.id } });
            return found;
          }
        }
        const wait = this.d.api.backoff(i, e.retryAfterMs);
        if (!e.retryable || i >= this.d.retryAttempts || wait === null) throw e;
        await this.d.api.wait(wait);
      }
    }
  }

  /** The prediction an earlier attempt created for the job, if any (by webhook URL, archive URL or ct_job_id). */
  async find(hint: Pick<ReplicateAttempt, 'attemptedAt' | 'fileUrl'> | null): Promise<PredictionLike | null> {
    return findPrediction(this.d.api.raw(), this.job.id, this.d.webhookUrl(this.job.id), hint, this.d.now());
  }

  private async save(patch: Partial<ReplicateState>): Promise<void> {
    this.state = { ...this.state, ...patch };
    await this.ctx.saveState(this.state);
  }
}

export async function findPrediction(client: Replicate, jobId: string, webhook: string | null, hint: Pick<ReplicateAttempt, 'attemptedAt' | 'fileUrl'> | null, nowMs: number): Promise<PredictionLike | null> {
  const since = hint ? Date.parse(hint.attemptedAt) - CLOCK_SKEW_MS : nowMs - 24 * 3_600_000;
  try {
    return await new PredictionFinder(client).find({ jobId, webhook, fileUrl: hint?.fileUrl ?? null }, { sinceMs: since });
  } catch (err) {
    throw classifyError(err, 'look for an earlier prediction');
  }
}

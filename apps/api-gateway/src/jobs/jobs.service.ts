import { Inject, Injectable } from '@nestjs/common';
import { ACTIVE_STATUSES, DomainError, isTerminal, type JobStatus } from '@ct/job-domain';
import type { GatewayEnv } from '@ct/config';
import type { JobDetailView, JobList, JobView, JobWithConfigView, ListJobsQuery, SubmitJobBody } from '@ct/contracts';
import { ArtifactRepository, JobRepository, JobTracker, SchedulingRepository, type Principal } from '@ct/persistence';
import { assertDataloaderPaths, localDatasetsOf, resolveDatasetDir } from '@ct/packaging';
import { DatasetRoots } from '@ct/service';
import { ProviderRegistry } from '@ct/providers-core';
import { ConsentService } from '../consent/consent.service';
import { CostEstimator } from '../costs/cost-estimator';
import { GATEWAY_ENV } from '../infra.tokens';
import { decodeCursor, encodeCursor, jobView, jobWithConfigView } from './job.view';
import { WaitingReasons } from './waiting-reasons';

/** Submission and the job lifecycle operations of the REST API. */
@Injectable()
export class JobsService {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly jobs: JobRepository,
    private readonly tracker: JobTracker,
    private readonly artifacts: ArtifactRepository,
    private readonly providers: ProviderRegistry,
    private readonly waiting: WaitingReasons,
    private readonly roots: DatasetRoots,
    private readonly consent: ConsentService,
    private readonly estimator: CostEstimator,
    private readonly scheduling: SchedulingRepository,
  ) {}

  async submit(p: Principal, body: SubmitJobBody, providerParam: string | undefined, headerKey: string | undefined): Promise<{ job: JobWithConfigView; created: boolean }> {
    const provider = this.providerOf(body.provider, providerParam);
    const plugin = await this.providers.forOrg(p.orgId, provider);
    await this.consent.assertSubmittable(p.orgId, plugin, body.dataloader_config);
    // Refuse bad dataset paths now, so a user hears about them at once and no half-created job remains.
    const roots = await this.roots.of(p.orgId);
    for (const ds of localDatasetsOf(body.dataloader_config)) await resolveDatasetDir(ds.dir, roots);
    await assertDataloaderPaths(body.dataloader_config, roots);
    const plan = await plugin.prepare({
      hardwareProfile: body.hardware_profile ?? null,
      requirements: { labels: [...new Set(body.worker_requirements?.labels ?? [])], ...(body.worker_requirements?.min_gpu_memory_gib !== undefined ? { min_gpu_memory_gib: body.worker_requirements.min_gpu_memory_gib } : {}) },
    });
    const estimate = await this.estimator.estimate(p.orgId, provider, { config: body.config, hardwareProfile: plan.hardwareProfile });
    const { job, created } = await this.jobs.create({
      orgId: p.orgId,
      createdByKeyId: p.apiKeyId,
      name: body.name ?? body.config_name ?? `training-${new Date().toISOString().slice(0, 19)}`,
      type: body.type,
      provider,
      config: body.config as object,
      dataloader: body.dataloader_config as object[],
      requirements: plan.requirements,
      hardwareProfile: plan.hardwareProfile,
      idempotencyKey: headerKey ?? body.idempotency_key ?? null,
      maxRequeues: this.env.WORKER_MAX_REQUEUES,
      consentDigest: body.consent_digest ?? null,
      estimate: estimate.view as object,
      estimatedMicros: estimate.expectedMicros,
      maxRuntimeS: body.max_runtime_seconds ?? null,
      priority: body.priority ?? (await this.scheduling.defaultPriority(p.orgId)),
      // Only what a provider bills is admitted against the spending limits (the organisation's own GPUs cost nothing here).
      ...(estimate.view.dollars_per_second > 0 ? { spend: { estimateMicros: estimate.expectedMicros ?? 0n } } : {}),
    });
    return { job: jobWithConfigView(job), created };
  }

  private providerOf(fromBody: string | undefined, fromQuery: string | undefined): string {
    if (fromBody && fromQuery && fromBody !== fromQuery) {
      throw new DomainError('validation_failed', `provider is "${fromQuery}" in the query but "${fromBody}" in the body.`);
    }
    return this.providers.definition(fromQuery ?? fromBody ?? 'local').name;
  }

  async list(p: Principal, q: ListJobsQuery): Promise<JobList> {
    const cursor = q.cursor ? decodeCursor(q.cursor) : undefined;
    if (q.cursor && !cursor) throw new DomainError('validation_failed', 'The cursor is not one this API returned.');
    const page = await this.jobs.list(p.orgId, { status: q.status, provider: q.provider, type: q.type, limit: q.limit, cursor: cursor ?? undefined });
    return { jobs: page.jobs.map((j) => jobView(j)), next_cursor: page.next ? encodeCursor(page.next) : null };
  }

  async get(p: Principal, id: string): Promise<JobDetailView> {
    const job = await this.jobs.get(p.orgId, id);
    const pkg = await this.artifacts.findPackage(p.orgId, id);
    const artifacts = await this.artifacts.listArtifacts(p.orgId, id);
    const def = this.providers.definition(job.provider);
    const waiting =
      job.status === 'queued' && def.capabilities.workerClaimed ? await this.waiting.whyQueued(job)
      : job.status === 'waiting' ? ((await this.scheduling.position(p.orgId, id))?.reason ?? null)
      : null;
    return {
      ...jobWithConfigView(job, pkg),
      ...(waiting ? { waiting_reason: waiting } : {}),
      artifacts: artifacts.map((a) => ({ bucket: a.bucket, key: a.key, size: Number(a.size), etag: a.etag, sha256: a.sha256 })),
    };
  }

  async cancel(p: Principal, id: string): Promise<JobView> {
    const job = await this.jobs.get(p.orgId, id);
    if (isTerminal(job.status as JobStatus)) {
      throw new DomainError('job_not_active', `Job ${id} already ended (${job.status}); there is nothing to cancel.`, { status: job.status });
    }
    const outcome = await this.tracker.transition({
      orgId: p.orgId, jobId: id, to: 'cancelled', from: ACTIVE_STATUSES, reason: 'cancelled by user',
      patch: { cancelRequestedAt: new Date() },
    });
    if (!outcome.applied) {
      // It moved meanwhile (e.g. it just finished); report what it is now.
      const now = await this.jobs.get(p.orgId, id);
      if (isTerminal(now.status as JobStatus) && now.status !== 'cancelled') {
        throw new DomainError('job_not_active', `Job ${id} ended (${now.status}) before it could be cancelled.`);
      }
      if (now.status !== 'cancelled') return this.cancel(p, id);
      return jobView(now);
    }
    return jobView(outcome.job);
  }

  /** Deletes a terminal job; its package and outputs go from storage too, unless `keepOutputs`. */
  async delete(p: Principal, id: string, keepOutputs: boolean): Promise<void> {
    await this.jobs.delete(p.orgId, id, { keepOutputs });
  }
}

import type { QueuePayload } from '@ct/contracts';
import { DomainError, isTerminal, type JobStatus } from '@ct/job-domain';
import type { Logger } from '@ct/logging';
import { ArtifactRepository, enqueueInTx, JobRepository, JobTracker, SchedulingRepository, StepClaim, type Job, type PrismaClient } from '@ct/persistence';
import { jobForProvider, type PackageRef, type ProviderPlugin, type ProviderRegistry, type RunResult } from '@ct/providers-core';
import { RetryLaterError } from '@ct/queue';

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const DISPATCHABLE: readonly JobStatus[] = ['packaging', 'waiting', 'uploading'];

/**
 * packaging|waiting → [uploading →] queued|running: take a concurrency slot in queue order (or wait), enforce the provider's size limit
 * before anything leaves the machine, take the step's claim, hand the job to its plugin, and start
 * polling provider-run jobs. The claim is taken before any side effect: a second dispatcher given the
 * same job (a stalled queue item taken over) waits for it instead of calling the provider again.
 */
export class DispatchJobUseCase {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly artifacts: ArtifactRepository;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly providers: ProviderRegistry,
    private readonly logger: Logger,
    private readonly scheduling: SchedulingRepository = new SchedulingRepository(prisma),
    private readonly claimTtlMs = 15_000,
  ) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.artifacts = new ArtifactRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'dispatch'>, step: string): Promise<void> {
    // The claim comes first: it is the one write that also reads the job, and nothing below has an effect.
    const claim = await StepClaim.take(this.prisma, { orgId, jobId, statuses: DISPATCHABLE, ttlMs: this.claimTtlMs, step });
    if (!claim) {
      const held = await this.jobs.find(orgId, jobId);
      if (!held || !DISPATCHABLE.includes(held.status as JobStatus) || held.rewrittenDataloader === null) return;
      // Another replica is dispatching it (or died doing so): try again once its claim has run out.
      throw new RetryLaterError(Math.max(1_000, (held.stepUntil?.getTime() ?? Date.now()) - Date.now() + 250), `job ${jobId} is being dispatched by ${held.stepOwner}`);
    }
    try {
      const job = claim.job;
      if (job.rewrittenDataloader === null) return;
      const plugin = await this.providers.forOrg(orgId, job.provider);
      if (!job.admittedAt && !(await this.admit(claim))) return;
      const pkg = await this.artifacts.findPackage(orgId, jobId);
      const ref: PackageRef | null = pkg ? { bucket: pkg.bucket, key: pkg.key, archiveBytes: Number(pkg.archiveBytes) } : null;
      this.assertWithinLimit(plugin, ref?.archiveBytes ?? 0);
      await this.dispatch(claim, plugin, ref);
    } catch (err) {
      if (!claim.lost) throw err;
      this.logger.warn({ jobId, err: (err as Error).message }, 'dispatch stopped: the claim was lost');
    } finally {
      await claim.release();
    }
  }

  /**
   * A concurrency slot, in queue order: false when the job must wait (it moves to `waiting`, saying why, and
   * is woken when a slot frees). Waiting jobs this admission gave slots to beside it get their dispatch now.
   */
  private async admit(claim: StepClaim): Promise<boolean> {
    const job = claim.job;
    const a = await this.scheduling.admit(job.orgId, job.id, job.provider);
    if (a.others.length) {
      await this.prisma.$transaction(async (tx) => {
        for (const o of a.others) await enqueueInTx(tx, 'dispatch', { v: 1, jobId: o.id, orgId: o.orgId }, `admitted-${Date.now()}`);
      });
    }
    if (a.admitted) return true;
    if (job.status === 'packaging') {
      const moved = await this.tracker.transition({ orgId: job.orgId, jobId: job.id, to: 'waiting', from: ['packaging'], claim: claim.owner, reason: `waiting for a slot: ${a.reason ?? 'none free'}` });
      if (moved.applied) claim.markEnded();
    }
    this.logger.info({ jobId: job.id, reason: a.reason }, 'job waits for a concurrency slot');
    return false;
  }

  private async dispatch(claim: StepClaim, plugin: ProviderPlugin, ref: PackageRef | null): Promise<void> {
    const { orgId, jobId } = claim.opts;
    let job = claim.job;
    if (ref && plugin.capabilities.uploadsPackage && (job.status === 'packaging' || job.status === 'waiting')) {
      const moved = await this.tracker.transition({ orgId, jobId, to: 'uploading', from: ['packaging', 'waiting'], claim: claim.owner, keepClaim: true, reason: `uploading the ${mib(ref.archiveBytes)} archive to ${plugin.name}` });
      if (!moved.applied) return;
      job = moved.job;
    }
    const result = await plugin.runJob(jobForProvider(job), ref, {
      signal: claim.signal,
      saveState: async (state) => {
        if (!(await claim.whileHeld({ providerState: state as object }))) throw claim.signal.reason as Error;
      },
    });
    await this.record(job, plugin, result, claim);
  }

  private assertWithinLimit(plugin: ProviderPlugin, bytes: number): void {
    const max = plugin.capabilities.maxUploadBytes;
    if (max === null || bytes <= max) return;
    throw new DomainError(
      'package_too_large',
      `The packaged datasets are ${mib(bytes)} (${bytes} bytes) but ${plugin.name} accepts at most ${mib(max)} (${max} bytes); nothing was uploaded. ` +
        'Make the datasets smaller (fewer or smaller images, or split the job), or run it on your own workers (provider "worker").',
      { bytes, limit: max },
    );
  }

  private async record(job: Job, plugin: ProviderPlugin, result: RunResult, claim: StepClaim): Promise<void> {
    const applied = await this.prisma.$transaction(async (tx) => {
      const outcome = await this.tracker.transitionInTx(tx, {
        orgId: job.orgId, jobId: job.id, to: result.status, from: DISPATCHABLE, claim: claim.owner, reason: result.reason,
        patch: { externalId: result.externalId }, data: { externalId: result.externalId, ...(result.adopted ? { adopted: true } : {}) },
      });
      // Provider-run jobs are followed by polling (a safety net beside webhooks); an adopted run is asked about at once.
      if (outcome.applied && result.externalId && plugin.capabilities.polled) {
        await enqueueInTx(tx, 'poll', { v: 1, jobId: job.id, orgId: job.orgId, n: 0, ...(result.adopted ? { immediate: true } : {}) }, 'p0');
      }
      return outcome.applied;
    });
    if (applied) {
      claim.markEnded();
      this.logger.info({ jobId: job.id, provider: plugin.name, status: result.status, externalId: result.externalId, adopted: result.adopted ?? false }, 'job dispatched');
      return;
    }
    const now = await this.jobs.find(job.orgId, job.id);
    if (result.externalId && (!now || isTerminal(now.status as JobStatus))) {
      // Cancelled while we were submitting: do not leave it running (and billing) at the provider.
      await plugin.cancelJob(result.externalId);
      this.logger.info({ jobId: job.id, externalId: result.externalId }, 'provider run cancelled: the job ended meanwhile');
    }
  }
}

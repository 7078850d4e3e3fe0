import { PassThrough } from 'node:stream';
import { decideConsent, isTerminal, type JobStatus } from '@ct/job-domain';
import type { QueuePayload } from '@ct/contracts';
import { ArtifactRepository, ConsentRepository, enqueueInTx, JobRepository, JobTracker, StepClaim, type Job, type PrismaClient } from '@ct/persistence';
import { consentPreviewOf, planDataloader, rewriteDataloader, writePackage, type PackagePlan } from '@ct/packaging';
import type { ProviderRegistry } from '@ct/providers-core';
import { RetryLaterError } from '@ct/queue';
import { BUCKETS, outputPrefix, packageKey, type StorageDriver } from '@ct/storage';
import type { Logger } from '@ct/logging';

/**
 * pending → packaging: scan every local dataset (exclusion rules), apply the consent policy to what the
 * scan found (hold in `awaiting_consent`, or refuse, before anything is written), stream one zip straight
 * into storage, record the summary, rewrite the dataloader paths to the archive layout, then hand over to
 * `dispatch`.
 * Idempotent: a retry or re-drive of a job past this step does nothing. The step holds its claim on the
 * job while it writes, so a second packager given the same job (a stalled item taken over) waits.
 */
export class PackageJobUseCase {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly artifacts: ArtifactRepository;
  private readonly consent: ConsentRepository;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly driver: StorageDriver,
    private readonly rootsOf: (orgId: string) => Promise<string[]>,
    private readonly providers: ProviderRegistry,
    private readonly logger: Logger,
    private readonly onPackaged: (bytes: number, archiveBytes: number) => void = () => undefined,
    private readonly claimTtlMs = 15_000,
  ) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.artifacts = new ArtifactRepository(prisma);
    this.consent = new ConsentRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'package'>, step = 'package'): Promise<void> {
    const claim = await this.claim(orgId, jobId, step);
    if (!claim) return;
    try {
      await this.packageUnderClaim(claim.job, claim);
    } finally {
      await claim.release();
    }
  }

  /**
   * pending → packaging with the step's claim in the same write; a job already packaging (a retry, a
   * take-over after a crash) is claimed if nobody holds it. Null when there is nothing (left) to do.
   */
  private async claim(orgId: string, jobId: string, step: string): Promise<StepClaim | null> {
    const opts = { orgId, jobId, statuses: ['packaging'] as const, ttlMs: this.claimTtlMs, step };
    const moved = await this.tracker.transition({
      orgId, jobId, to: 'packaging', from: ['pending'], reason: 'packaging datasets',
      patch: { stepOwner: StepClaim.ownerOf(step), stepUntil: new Date(Date.now() + this.claimTtlMs) },
    });
    if (moved.applied) return StepClaim.adopt(this.prisma, opts, moved.job);
    if (moved.job?.status !== 'packaging' || moved.job.rewrittenDataloader !== null) return null;
    const claim = await StepClaim.take(this.prisma, opts);
    if (claim) return claim;
    const held = await this.jobs.find(orgId, jobId);
    if (held?.status !== 'packaging' || held.rewrittenDataloader !== null) return null;
    throw new RetryLaterError(Math.max(1_000, (held.stepUntil?.getTime() ?? Date.now()) - Date.now() + 250), `job ${jobId} is being packaged by ${held.stepOwner}`);
  }

  private async packageUnderClaim(job: Job, claim: StepClaim): Promise<void> {
    const { id: jobId, orgId } = job;
    const log = this.logger.child({ jobId, orgId });
    // The gateway checked the paths at submission; the roots may have changed since, so check again before reading.
    const plan = await planDataloader(job.dataloader as unknown[], await this.rootsOf(orgId), claim.signal);
    let rewritten = job.dataloader as unknown[];
    if (plan.datasets.length > 0) {
      if (!(await this.admit(job, plan, claim))) return;
      const summary = await this.zipIntoStorage(job, plan, claim.signal);
      if (!summary) return;
      rewritten = rewriteDataloader(job.dataloader as unknown[], summary.datasets, '');
      this.onPackaged(summary.bytes, summary.archiveBytes);
      log.info({ files: summary.files, bytes: summary.bytes, archiveBytes: summary.archiveBytes }, 'datasets packaged');
    }
    await this.prisma.$transaction(async (tx) => {
      // The claim ends with this write: the next step takes its own.
      const { count } = await tx.job.updateMany({
        where: { id: jobId, orgId, status: 'packaging', stepOwner: claim.owner },
        data: { rewrittenDataloader: rewritten as object[], outputPrefix: outputPrefix(orgId, jobId), stepOwner: null, stepUntil: null },
      });
      if (count === 1) await enqueueInTx(tx, 'dispatch', { v: 1, jobId, orgId });
    });
    claim.markEnded();
  }

  /**
   * The consent policy on what the scan found, before anything is written: true to go on packaging. A hold
   * moves the job to `awaiting_consent` with the preview the user will confirm; a refusal fails it.
   */
  private async admit(job: Job, plan: PackagePlan, claim: StepClaim): Promise<boolean> {
    // Fresh: a setting changed a moment ago (e.g. workers counted as outside) applies to this job.
    const plugin = await this.providers.forOrg(job.orgId, job.provider, { fresh: true });
    if (!plugin.capabilities.dataLeavesInfrastructure) return true;
    const setting = await this.consent.setting(job.orgId);
    const preview = consentPreviewOf(job.provider, plan);
    const decision = decideConsent({
      mode: setting.mode, provider: job.provider, applies: true,
      files: plan.files, bytes: plan.bytes, digest: preview.digest, consentedDigest: job.consentDigest,
    });
    if (decision.action === 'admit') {
      if (decision.note) await this.prisma.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, fromStatus: 'packaging', toStatus: 'packaging', reason: decision.note, data: decision.data as object } });
      return true;
    }
    const moved = decision.action === 'hold'
      ? await this.tracker.transition({
          orgId: job.orgId, jobId: job.id, to: decision.status, from: ['packaging'], claim: claim.owner, reason: decision.reason,
          patch: { consentRequest: preview as object, consentDeadline: new Date(Date.now() + setting.timeoutSeconds * 1000) },
          data: { consent: 'requested', digest: preview.digest, provider: job.provider, files: preview.files, bytes: preview.bytes },
        })
      : await this.tracker.transition({
          orgId: job.orgId, jobId: job.id, to: 'failed', from: ['packaging'], claim: claim.owner, reason: decision.reason,
          patch: { error: decision.reason }, data: { consent: 'refused', code: decision.code, provider: job.provider },
        });
    if (moved.applied) {
      claim.markEnded();
      this.logger.info({ jobId: job.id, decision: decision.action }, decision.reason);
    }
    return false;
  }

  private async zipIntoStorage(job: Job, plan: PackagePlan, claimLost: AbortSignal) {
    const key = packageKey(job.orgId, job.id);
    const abort = new AbortController();
    claimLost.addEventListener('abort', () => abort.abort(new Error('the step claim was lost')), { once: true });
    // Cancel while packaging: stop writing as soon as the job is no longer packaging.
    const watch = setInterval(() => {
      void this.jobs.find(job.orgId, job.id).then((j) => {
        if (!j || isTerminal(j.status as JobStatus)) abort.abort(new Error('job ended while packaging'));
      });
    }, 500);
    try {
      const body = new PassThrough();
      const [summary] = await Promise.all([writePackage(plan, body, { signal: abort.signal }), this.driver.putObject(BUCKETS.datasets, key, body, { contentType: 'application/zip' })]);
      const recorded = { ...summary, storageKey: key };
      await this.artifacts.recordPackage(job.orgId, job.id, BUCKETS.datasets, recorded);
      await this.prisma.jobEvent.create({
        data: {
          orgId: job.orgId, jobId: job.id, fromStatus: 'packaging', toStatus: 'packaging',
          reason: `packaged ${summary.files} files (${summary.bytes} bytes) into a ${summary.archiveBytes}-byte archive`,
          data: recorded as object,
        },
      });
      return summary;
    } catch (err) {
      if (abort.signal.aborted) {
        await this.driver.deleteObject(BUCKETS.datasets, key).catch(() => undefined);
        this.logger.info({ jobId: job.id }, 'packaging stopped: the job ended');
        return null;
      }
      throw err;
    } finally {
      clearInterval(watch);
    }
  }
}

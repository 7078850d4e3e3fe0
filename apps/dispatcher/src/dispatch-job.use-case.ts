import type { QueuePayload } from '@ct/contracts';
import { DomainError } from '@ct/job-domain';
import { ArtifactRepository, enqueueInTx, JobRepository, JobTracker, type Job, type PrismaClient } from '@ct/persistence';
import type { ProviderPlugin, ProviderResolver, RunResult, SchedulingGate } from '@ct/providers-core';
import type { Logger } from '@ct/logging';

/** Thrown when the gate (or a provider's rate limit) says "not yet": the processor re-delays the step. */
export class NotYetError extends Error {
  constructor(readonly retryAfterMs: number, reason: string) {
    super(reason);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * packaging → [uploading →] queued|running: ask the scheduling gate, enforce the provider's size limit
 * before anything leaves the machine, hand the job to its plugin, and start polling provider-run jobs.
 */
export class DispatchJobUseCase {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly artifacts: ArtifactRepository;

  constructor(private readonly prisma: PrismaClient, private readonly providers: ProviderResolver, private readonly gate: SchedulingGate, private readonly logger: Logger) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.artifacts = new ArtifactRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'dispatch'>): Promise<void> {
    const job = await this.jobs.find(orgId, jobId);
    if (!job || !['packaging', 'uploading'].includes(job.status) || job.rewrittenDataloader === null) return;
    const plugin = await this.providers.resolve(job.provider, orgId);
    const forProvider = {
      id: job.id, orgId, name: job.name, provider: job.provider, hardwareProfile: job.hardwareProfile,
      config: job.config as Record<string, unknown>, dataloader: job.rewrittenDataloader as unknown[],
    };
    const decision = await this.gate.decide(forProvider);
    if (decision.action === 'wait') throw new NotYetError(decision.retryAfterMs, decision.reason);
    if (decision.action === 'reject') throw new DomainError('forbidden', decision.reason);
    const pkg = await this.artifacts.findPackage(orgId, jobId);
    const ref = pkg ? { bucket: pkg.bucket, key: pkg.key, archiveBytes: Number(pkg.archiveBytes) } : null;
    this.assertWithinLimit(plugin, ref?.archiveBytes ?? 0);
    if (ref && plugin.capabilities.uploadsPackage && job.status === 'packaging') {
      await this.tracker.transition({ orgId, jobId, to: 'uploading', from: ['packaging'], reason: `uploading the ${mib(ref.archiveBytes)} archive to ${plugin.name}` });
    }
    const result = await plugin.runJob(forProvider, ref);
    await this.record(job, plugin, result);
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

  private async record(job: Job, plugin: ProviderPlugin, result: RunResult & { fileId?: string | null }): Promise<void> {
    const applied = await this.prisma.$transaction(async (tx) => {
      const outcome = await this.tracker.transitionInTx(tx, {
        orgId: job.orgId, jobId: job.id, to: result.status, from: ['packaging', 'uploading'], reason: result.reason,
        patch: { externalId: result.externalId, ...(result.fileId !== undefined ? { providerFileId: result.fileId } : {}) },
        data: { externalId: result.externalId },
      });
      // Provider-run jobs are tracked by polling (a safety net beside webhooks); workers report themselves.
      if (outcome.applied && result.externalId) await enqueueInTx(tx, 'poll', { v: 1, jobId: job.id, orgId: job.orgId, n: 0 }, 'p0');
      return outcome.applied;
    });
    if (!applied && result.externalId) {
      // Cancelled while we were submitting: do not leave it running (and billing) at the provider.
      await plugin.cancelJob(result.externalId);
      this.logger.info({ jobId: job.id, externalId: result.externalId }, 'provider run cancelled: the job ended meanwhile');
      return;
    }
    this.logger.info({ jobId: job.id, provider: plugin.name, status: result.status, externalId: result.externalId }, 'job dispatched');
  }
}

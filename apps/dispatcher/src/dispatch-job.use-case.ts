import type { QueuePayload } from '@ct/contracts';
import { DomainError } from '@ct/job-domain';
import { ArtifactRepository, JobRepository, JobTracker, type PrismaClient } from '@ct/persistence';
import type { ProviderRegistry, SchedulingGate } from '@ct/providers-core';
import type { Logger } from '@ct/logging';

/** Thrown when the gate says "not yet": the processor re-delays the step instead of failing it. */
export class NotYetError extends Error {
  constructor(readonly retryAfterMs: number, reason: string) {
    super(reason);
  }
}

/** packaging → queued|running: ask the scheduling gate, check provider limits, hand the job to its plugin. */
export class DispatchJobUseCase {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly artifacts: ArtifactRepository;

  constructor(prisma: PrismaClient, private readonly registry: ProviderRegistry, private readonly gate: SchedulingGate, private readonly logger: Logger) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.artifacts = new ArtifactRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'dispatch'>): Promise<void> {
    const job = await this.jobs.find(orgId, jobId);
    if (!job || job.status !== 'packaging' || job.rewrittenDataloader === null) return;
    const plugin = this.registry.get(job.provider);
    const forProvider = {
      id: job.id, orgId, name: job.name, provider: job.provider, hardwareProfile: job.hardwareProfile,
      config: job.config as Record<string, unknown>, dataloader: job.rewrittenDataloader as unknown[],
    };
    const decision = await this.gate.decide(forProvider);
    if (decision.action === 'wait') throw new NotYetError(decision.retryAfterMs, decision.reason);
    if (decision.action === 'reject') throw new DomainError('forbidden', decision.reason);
    const pkg = await this.artifacts.findPackage(orgId, jobId);
    const max = plugin.capabilities.maxUploadBytes;
    if (pkg && max !== null && Number(pkg.archiveBytes) > max) {
      throw new DomainError('package_too_large', `The packaged datasets are ${Number(pkg.archiveBytes)} bytes; ${plugin.name} accepts at most ${max}. Make the datasets smaller or use another provider.`);
    }
    const result = await plugin.runJob(forProvider, pkg ? { bucket: pkg.bucket, key: pkg.key, archiveBytes: Number(pkg.archiveBytes) } : null);
    const outcome = await this.tracker.transition({ orgId, jobId, to: result.status, from: ['packaging'], reason: result.reason, patch: { externalId: result.externalId } });
    if (!outcome.applied && result.externalId) {
      // Cancelled while we were submitting: do not leave it running at the provider.
      await plugin.cancelJob(result.externalId);
    }
    this.logger.info({ jobId, provider: plugin.name, status: result.status }, 'job dispatched');
  }
}

import type { QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import type { JobProgress } from '@ct/job-domain';
import { JobRepository, mergeProgress, WorkerRepository, type PrismaClient } from '@ct/persistence';
import { jobForProvider, type ProviderRegistry } from '@ct/providers-core';

/**
 * Terminal: release the job's worker leases, then let its provider clean up (stop a cancelled run, read
 * the final logs and billed cost, delete what was uploaded) and record what it did on the timeline.
 * Idempotent: done once `finalized_at` is set; a retry before that finds nothing left to delete.
 */
export class FinalizeJobUseCase {
  private readonly jobs: JobRepository;
  private readonly workers: WorkerRepository;

  constructor(private readonly prisma: PrismaClient, private readonly providers: ProviderRegistry, private readonly logger: Logger) {
    this.jobs = new JobRepository(prisma);
    this.workers = new WorkerRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'finalize'>): Promise<void> {
    const job = await this.jobs.findIncludingDeleted(orgId, jobId);
    if (!job || job.finalizedAt) return;
    await this.workers.releaseLeases(jobId, job.status);
    const plugin = await this.providers.forOrg(orgId, job.provider);
    if (plugin.finalize) {
      const r = await plugin.finalize(jobForProvider(job));
      if (r.status) {
        await this.jobs.appendProviderLogLines(orgId, jobId, r.status.logLines ?? []);
        const cost = r.status.costMicros;
        const progress = r.status.progress;
        // The billed cost replaces the accrual; the final progress (from the final log) only moves forward.
        await this.prisma.job.updateMany({
          where: { id: jobId },
          data: {
            ...(cost !== null && cost !== undefined ? { costMicros: cost } : {}),
            ...(progress ? { progress: mergeProgress(job.progress as JobProgress | null, progress, new Date().toISOString()) as object } : {}),
          },
        });
      }
      for (const note of r.notes) {
        await this.prisma.jobEvent.create({ data: { orgId, jobId, fromStatus: job.status, toStatus: job.status, reason: note.reason, data: (note.data ?? undefined) as object | undefined } });
      }
      if (r.state !== undefined) await this.prisma.job.updateMany({ where: { id: jobId }, data: { providerState: r.state as object } });
    }
    await this.prisma.job.updateMany({ where: { id: jobId }, data: { finalizedAt: new Date() } });
    this.logger.info({ jobId, status: job.status, provider: job.provider }, 'job finalized');
  }
}

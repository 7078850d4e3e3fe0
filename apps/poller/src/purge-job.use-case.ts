import type { QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import { JobRepository, type PrismaClient } from '@ct/persistence';
import { RetryLaterError } from '@ct/queue';
import { BUCKETS, outputPrefix, packageKey, type StorageDriver } from '@ct/storage';

/**
 * A deleted job's objects: its package, and its outputs unless the user kept them, then the job's row.
 * Idempotent (deleting what is gone is a no-op). It waits for finalize, which needs the row's provider
 * state to clean up at the provider.
 */
export class PurgeJobUseCase {
  constructor(private readonly prisma: PrismaClient, private readonly driver: StorageDriver, private readonly logger: Logger) {}

  async execute({ jobId, orgId }: QueuePayload<'purge'>): Promise<void> {
    const job = await new JobRepository(this.prisma).findIncludingDeleted(orgId, jobId);
    if (!job || !job.deletedAt) return;
    if (!job.finalizedAt) throw new RetryLaterError(5_000, `job ${jobId} is not finalized yet`);
    const keepOutputs = job.keepOutputs;
    await this.driver.deleteObject(BUCKETS.datasets, packageKey(orgId, jobId));
    let outputs = 0;
    if (!keepOutputs) outputs = await this.driver.deletePrefix(BUCKETS.outputs, outputPrefix(orgId, jobId));
    await this.prisma.artifact.deleteMany({ where: { orgId, OR: [{ bucket: BUCKETS.datasets, key: packageKey(orgId, jobId) }, ...(keepOutputs ? [] : [{ bucket: BUCKETS.outputs, key: { startsWith: outputPrefix(orgId, jobId) } }])] } });
    await this.prisma.job.deleteMany({ where: { id: jobId, orgId, deletedAt: { not: null } } });
    this.logger.info({ jobId, outputs, keepOutputs }, 'deleted job purged from storage');
  }
}

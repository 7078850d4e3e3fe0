import type { QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import type { PrismaClient } from '@ct/persistence';
import { BUCKETS, outputPrefix, packageKey, type StorageDriver } from '@ct/storage';

/**
 * A deleted job's objects: its package, and its outputs unless the user kept them. Idempotent (deleting
 * what is gone is a no-op); the job row is already gone, so the payload carries its ids.
 */
export class PurgeJobUseCase {
  constructor(private readonly prisma: PrismaClient, private readonly driver: StorageDriver, private readonly logger: Logger) {}

  async execute({ jobId, orgId, keepOutputs }: QueuePayload<'purge'>): Promise<void> {
    await this.driver.deleteObject(BUCKETS.datasets, packageKey(orgId, jobId));
    let outputs = 0;
    if (!keepOutputs) outputs = await this.driver.deletePrefix(BUCKETS.outputs, outputPrefix(orgId, jobId));
    await this.prisma.artifact.deleteMany({ where: { orgId, OR: [{ bucket: BUCKETS.datasets, key: packageKey(orgId, jobId) }, ...(keepOutputs ? [] : [{ bucket: BUCKETS.outputs, key: { startsWith: outputPrefix(orgId, jobId) } }])] } });
    this.logger.info({ jobId, outputs, keepOutputs }, 'deleted job purged from storage');
  }
}

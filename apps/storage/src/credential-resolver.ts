import { isTerminal, type JobStatus } from '@ct/job-domain';
import { isDatabaseUnavailable, type PrismaClient } from '@ct/persistence';
import { BUCKETS, deriveSecret, outputPrefix, packageKey, parseAccessKeyId, S3Error, type ResolvedCredential } from '@ct/storage';

/**
 * Who an access key id belongs to and what it may touch. Secrets are derived from the master key, never
 * stored: a job's credentials work only while the job runs under its current lease; an API
 * key's credentials read (and list) its organisation's objects.
 */
export function credentialResolver(prisma: PrismaClient, masterKey: string) {
  const resolve = unavailableAsS3(async (accessKeyId: string): Promise<ResolvedCredential | null> => {
    const parsed = parseAccessKeyId(accessKeyId);
    if (!parsed) return null;
    const secretAccessKey = deriveSecret(masterKey, accessKeyId);
    if (parsed.kind === 'job') {
      const job = await prisma.job.findUnique({ where: { id: parsed.jobId } });
      // A worker's credentials end with its lease: a requeue or a rotated worker token moves the fence on,
      // and a job waiting in the queue has no worker to hold them. Provider-run jobs hold them while active.
      if (!job || isTerminal(job.status as JobStatus) || job.leaseFence !== parsed.fence) return null;
      if (job.status !== 'running' && job.externalId === null) return null;
      return {
        secretAccessKey,
        principal: { orgId: job.orgId, jobId: job.id },
        grants: [
          { bucket: BUCKETS.datasets, prefix: packageKey(job.orgId, job.id), actions: ['read'] },
          { bucket: BUCKETS.outputs, prefix: outputPrefix(job.orgId, job.id), actions: ['read', 'write', 'list'] },
        ],
      };
    }
    const key = await prisma.apiKey.findUnique({ where: { id: parsed.apiKeyId } });
    if (!key || key.revokedAt) return null;
    return {
      secretAccessKey,
      principal: { orgId: key.orgId, apiKeyId: key.id },
      grants: [
        { bucket: BUCKETS.datasets, prefix: `${key.orgId}/`, actions: ['read', 'list'] },
        { bucket: BUCKETS.outputs, prefix: `${key.orgId}/`, actions: ['read', 'list'] },
      ],
    };
  });
  return resolve;
}

/**
 * A database that is briefly unreachable is S3's 503 ServiceUnavailable, which every S3 client retries
 * with backoff, rather than a 500 (or a refused credential).
 */
export function unavailableAsS3<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw new S3Error('ServiceUnavailable', 'The storage index is briefly unavailable; please retry.');
      throw err;
    }
  };
}

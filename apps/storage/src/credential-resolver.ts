import { isTerminal, type JobStatus } from '@ct/job-domain';
import type { PrismaClient } from '@ct/persistence';
import { BUCKETS, deriveSecret, outputPrefix, packageKey, parseAccessKeyId, type ResolvedCredential } from '@ct/storage';

/**
 * Who an access key id belongs to and what it may touch. Secrets are derived from the master key, never
 * stored: a job's credentials work only while the job runs under its current lease; an API
 * key's credentials read (and list) its organisation's objects.
 */
export function credentialResolver(prisma: PrismaClient, masterKey: string) {
  return async (accessKeyId: string): Promise<ResolvedCredential | null> => {
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
  };
}

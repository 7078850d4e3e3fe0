import { DomainError, NotFoundError, type ConsentMode } from '@ct/job-domain';
import type { Job } from './generated/prisma/client';
import { JobTracker } from './job-tracker';
import { enqueueInTx } from './outbox';
import type { PrismaClient } from './prisma';

export interface ConsentSetting {
  mode: ConsentMode;
  timeoutSeconds: number;
}

/**
 * Consent before upload: the organisation's setting, and the user's answer to a job that waits in
 * `awaiting_consent`. Every answer is a compare-and-set out of `awaiting_consent` with its timeline event
 * (who, when, which digest, which provider); a confirmation sends the job back to the packager in the same
 * transaction, and the packager scans again, so what is uploaded is what was consented to.
 */
export class ConsentRepository {
  private readonly tracker: JobTracker;

  constructor(private readonly prisma: PrismaClient) {
    this.tracker = new JobTracker(prisma);
  }

  async setting(orgId: string): Promise<ConsentSetting> {
    const org = await this.prisma.organization.findUnique({ where: { id: orgId }, select: { consentMode: true, consentTimeoutS: true } });
    if (!org) throw new NotFoundError('Organisation', orgId);
    return { mode: org.consentMode as ConsentMode, timeoutSeconds: org.consentTimeoutS };
  }

  async putSetting(orgId: string, patch: Partial<ConsentSetting>): Promise<ConsentSetting> {
    await this.prisma.organization.update({
      where: { id: orgId },
      data: {
        ...(patch.mode !== undefined ? { consentMode: patch.mode } : {}),
        ...(patch.timeoutSeconds !== undefined ? { consentTimeoutS: patch.timeoutSeconds } : {}),
      },
    });
    return this.setting(orgId);
  }

  /** The user confirms what they were shown: only the digest of the job's current request is accepted. */
  async confirm(orgId: string, jobId: string, digest: string, by: string | null): Promise<Job> {
    const job = await this.awaiting(orgId, jobId);
    const request = job.consentRequest as { digest?: string; provider?: string } | null;
    if (request?.digest !== digest) {
      throw new DomainError('consent_digest_mismatch', 'The digest is not the one of the datasets this job would upload (they were scanned again since, or it is from another preview); read the job and confirm what it shows now.', { expected_from: `GET /api/cloud/jobs/${jobId}` });
    }
    const outcome = await this.prisma.$transaction(async (tx) => {
      const moved = await this.tracker.transitionInTx(tx, {
        orgId, jobId, to: 'pending', from: ['awaiting_consent'], reason: 'consent given: packaging the datasets that were shown',
        patch: { consentDigest: digest, consentDeadline: null },
        data: { consent: 'confirmed', by, digest, provider: job.provider },
      });
      // The first package item has finished; this one has its own id.
      if (moved.applied) await enqueueInTx(tx, 'package', { v: 1, jobId, orgId }, `consent-${Date.now()}`);
      return moved;
    });
    if (!outcome.applied) throw new DomainError('consent_not_awaited', `Job ${jobId} is no longer waiting for consent (${outcome.job?.status ?? 'gone'}).`);
    return outcome.job;
  }

  async decline(orgId: string, jobId: string, by: string | null): Promise<Job> {
    const job = await this.awaiting(orgId, jobId);
    const outcome = await this.tracker.transition({
      orgId, jobId, to: 'cancelled', from: ['awaiting_consent'], reason: 'consent declined: nothing was uploaded',
      patch: { consentDeadline: null },
      data: { consent: 'declined', by, digest: (job.consentRequest as { digest?: string } | null)?.digest ?? null, provider: job.provider },
    });
    if (!outcome.applied) throw new DomainError('consent_not_awaited', `Job ${jobId} is no longer waiting for consent (${outcome.job?.status ?? 'gone'}).`);
    return outcome.job;
  }

  /** Jobs whose consent deadline passed are cancelled (maintenance). Returns how many. */
  async expire(now = new Date()): Promise<number> {
    const due = await this.prisma.job.findMany({ where: { status: 'awaiting_consent', consentDeadline: { lt: now } }, select: { id: true, orgId: true, provider: true, consentRequest: true }, take: 500 });
    let n = 0;
    for (const j of due) {
      const outcome = await this.tracker.transition({
        orgId: j.orgId, jobId: j.id, to: 'cancelled', from: ['awaiting_consent'], reason: 'no answer to the consent request in time: nothing was uploaded',
        patch: { consentDeadline: null },
        data: { consent: 'expired', by: null, digest: (j.consentRequest as { digest?: string } | null)?.digest ?? null, provider: j.provider },
      });
      if (outcome.applied) n++;
    }
    return n;
  }

  private async awaiting(orgId: string, jobId: string): Promise<Job> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, orgId, deletedAt: null } });
    if (!job) throw new NotFoundError('Job', jobId);
    if (job.status !== 'awaiting_consent') throw new DomainError('consent_not_awaited', `Job ${jobId} is not waiting for consent (it is ${job.status}).`, { status: job.status });
    return job;
  }
}

import { isTerminal, type JobStatus } from '@ct/job-domain';
import type { PollerEnv } from '@ct/config';
import { JobRepository, JobTracker, type Job, type PrismaClient, type ProviderSettingsRepository } from '@ct/persistence';
import { ProviderError } from '@ct/providers-core';
import { logLinesOf, ReplicatePlugins, toProviderEvent } from '@ct/providers-replicate';
import type { QueuePayload } from '@ct/contracts';
import type { QueueProducer } from '@ct/queue';
import type { Logger } from '@ct/logging';

/**
 * Polling of Replicate-run jobs (the safety net beside webhooks) and their clean-up once terminal.
 * A poll applies its result through the same JobTracker.applyReport as webhooks and worker reports.
 */
export class ReplicateTracking {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly plugins: ReplicatePlugins;

  constructor(
    private readonly env: PollerEnv,
    private readonly prisma: PrismaClient,
    settings: ProviderSettingsRepository,
    private readonly producer: QueueProducer,
    private readonly logger: Logger,
  ) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.plugins = new ReplicatePlugins({ env, prisma, settings, logger });
  }

  async poll({ jobId, orgId, n }: QueuePayload<'poll'>): Promise<void> {
    const job = await this.jobs.find(orgId, jobId);
    if (!job || job.provider !== 'replicate' || !job.externalId || isTerminal(job.status as JobStatus)) return;
    const { plugin, settings } = await this.plugins.forOrg(orgId);
    let retryAfterMs: number | undefined;
    try {
      const st = await plugin.getJobStatus(job.externalId);
      if (st) {
        await this.jobs.appendProviderLogLines(orgId, jobId, logLinesOf(st));
        await this.tracker.applyReport(toProviderEvent(job, st, 'poll'));
        if (isTerminal(st.status)) return;
      }
    } catch (err) {
      // A rate limit or an outage slows polling down; it never ends the chain of polls.
      if (!(err instanceof ProviderError && err.retryable)) throw err;
      retryAfterMs = err.retryAfterMs ?? this.env.REPLICATE_POLL_MAX_MS;
      this.logger.warn({ jobId, retryAfterMs, err: err.message }, 'poll deferred');
    }
    const backoff = Math.min(this.env.REPLICATE_POLL_MIN_MS * 1.5 ** n, this.env.REPLICATE_POLL_MAX_MS);
    const delay = Math.max(retryAfterMs ?? 0, settings.webhooks_enabled && this.env.PUBLIC_URL ? this.env.REPLICATE_POLL_WITH_WEBHOOKS_MS : backoff);
    await this.producer.add('poll', { v: 1, jobId, orgId, n: n + 1 }, `poll-${jobId}-p${n + 1}`, { delay });
  }

  /** Terminal: stop the run if it was cancelled here, settle the billed cost, delete the uploaded archive. */
  async finalize(job: Job): Promise<void> {
    if (job.provider !== 'replicate') return;
    const { plugin } = await this.plugins.forOrg(job.orgId);
    if (job.externalId) {
      if (job.status === 'cancelled') await plugin.cancelJob(job.externalId);
      const st = await plugin.getJobStatus(job.externalId);
      if (st) {
        await this.jobs.appendProviderLogLines(job.orgId, job.id, logLinesOf(st));
        if (st.costMicros !== null) await this.prisma.job.updateMany({ where: { id: job.id }, data: { costMicros: st.costMicros } });
      }
    }
    if (job.providerFileId) {
      const deleted = await plugin.deleteFile(job.providerFileId);
      await this.prisma.jobEvent.create({
        data: {
          orgId: job.orgId, jobId: job.id, fromStatus: job.status, toStatus: job.status,
          reason: deleted ? `uploaded archive deleted from Replicate (file ${job.providerFileId})` : `uploaded archive was already gone from Replicate (file ${job.providerFileId})`,
          data: { fileId: job.providerFileId, deleted },
        },
      });
      await this.prisma.job.updateMany({ where: { id: job.id }, data: { providerFileId: null } });
    }
  }
}

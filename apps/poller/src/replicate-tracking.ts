import { isTerminal, type JobStatus } from '@ct/job-domain';
import type { PollerEnv } from '@ct/config';
import { JobRepository, JobTracker, WebhookDeliveryRepository, type Job, type PrismaClient, type ProviderSettingsRepository } from '@ct/persistence';
import { ProviderError } from '@ct/providers-core';
import { logLinesOf, ReplicatePlugins, toProviderEvent } from '@ct/providers-replicate';
import type { QueuePayload } from '@ct/contracts';
import type { QueueProducer } from '@ct/queue';
import type { Logger } from '@ct/logging';
import { nextPollDelay, quietDeferral, quietInterval } from './poll-cadence';

/**
 * Polling of Replicate-run jobs (the safety net beside webhooks) and their clean-up once terminal.
 * A poll applies its result through the same JobTracker.applyReport as webhooks and worker reports.
 */
export class ReplicateTracking {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly plugins: ReplicatePlugins;
  private readonly deliveries: WebhookDeliveryRepository;

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
    this.deliveries = new WebhookDeliveryRepository(prisma);
  }

  async poll({ jobId, orgId, n }: QueuePayload<'poll'>): Promise<void> {
    const job = await this.jobs.find(orgId, jobId);
    if (!job || job.provider !== 'replicate' || !job.externalId || isTerminal(job.status as JobStatus)) return;
    const { plugin, settings } = await this.plugins.forOrg(orgId);
    const webhooks = settings.webhooks_enabled && !!this.env.PUBLIC_URL;
    const cadence = { minMs: this.env.REPLICATE_POLL_MIN_MS, maxMs: this.env.REPLICATE_POLL_MAX_MS, quietMs: this.env.REPLICATE_POLL_WITH_WEBHOOKS_MS };
    let contacts: number[] = [];
    let quietMs = cadence.quietMs;
    if (webhooks) {
      // Webhooks are flowing for this job: no call to Replicate, look again once it has been quiet for long.
      contacts = await this.recentContactsMs(job);
      quietMs = quietInterval(contacts, cadence);
      const wait = quietDeferral(contacts[0] ?? null, Date.now(), quietMs);
      if (wait > 0) return this.schedule(jobId, orgId, n + 1, wait);
    }
    let retryAfterMs: number | undefined;
    let foundNews = false;
    try {
      const st = await plugin.getJobStatus(job.externalId);
      if (st) {
        const appended = await this.jobs.appendProviderLogLines(orgId, jobId, logLinesOf(st));
        const report = toProviderEvent(job, st, 'poll');
        foundNews = appended > 0 || st.status !== job.status;
        await this.tracker.applyReport(report);
        if (isTerminal(st.status)) return;
        if (foundNews && webhooks) this.logger.info({ jobId, appended, status: st.status }, 'poll found what no webhook delivered; polling faster');
      }
    } catch (err) {
      // A rate limit or an outage slows polling down; it never ends the chain of polls.
      if (!(err instanceof ProviderError && err.retryable)) throw err;
      retryAfterMs = err.retryAfterMs ?? this.env.REPLICATE_POLL_MAX_MS;
      this.logger.warn({ jobId, retryAfterMs, err: err.message }, 'poll deferred');
    }
    const silentForMs = contacts[0] === undefined ? undefined : Date.now() - contacts[0];
    return this.schedule(jobId, orgId, n + 1, nextPollDelay({ webhooks, foundNews, n, retryAfterMs, quietMs, silentForMs }, cadence));
  }

  private async schedule(jobId: string, orgId: string, n: number, delay: number): Promise<void> {
    // One chain per job: the id is the poll's number, so a retried or re-run poll cannot start a second chain.
    await this.producer.add('poll', { v: 1, jobId, orgId, n }, `poll-${jobId}-p${n}`, { delay });
  }

  /** When Replicate was last heard from about this job, newest first: its verified webhooks, or its creation. */
  private async recentContactsMs(job: Job): Promise<number[]> {
    const heard = (await this.deliveries.recentAcceptedAt('replicate', job.id)).map((d) => d.getTime());
    if (heard.length) return heard;
    const created = Date.parse((job.providerAttempt as { attemptedAt?: string } | null)?.attemptedAt ?? '');
    return Number.isFinite(created) ? [created] : [];
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

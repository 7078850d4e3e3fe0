import { queueJobId, type QueuePayload } from '@ct/contracts';
import { isTerminal, type JobStatus } from '@ct/job-domain';
import type { Logger } from '@ct/logging';
import { JobRepository, JobTracker, WebhookDeliveryRepository, type PrismaClient } from '@ct/persistence';
import { jobForProvider, ProviderError, toProviderEvent, type ProviderRegistry } from '@ct/providers-core';
import type { QueueProducer } from '@ct/queue';

/**
 * Polling of provider-run jobs (the safety net beside webhooks, or the only way for providers without).
 * A poll applies its result through the same JobTracker.applyReport as webhooks and worker reports; the
 * provider's tracking policy says when to ask. One chain of polls per job: each poll schedules the next
 * under the next number, so a retried or re-run poll cannot start a second chain.
 */
export class ProviderPolling {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly deliveries: WebhookDeliveryRepository;

  constructor(private readonly prisma: PrismaClient, private readonly providers: ProviderRegistry, private readonly producer: QueueProducer, private readonly logger: Logger) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.deliveries = new WebhookDeliveryRepository(prisma);
  }

  async poll({ jobId, orgId, n, immediate, once }: QueuePayload<'poll'>): Promise<void> {
    const job = await this.jobs.find(orgId, jobId);
    if (!job || !job.externalId || isTerminal(job.status as JobStatus)) return;
    const plugin = await this.providers.forOrg(orgId, job.provider);
    const tracking = plugin.tracking;
    if (!tracking) return;
    await this.prisma.job.updateMany({ where: { id: jobId }, data: { polledAt: new Date() } });
    const input = { n, job: jobForProvider(job), contactsMs: (await this.deliveries.recentAcceptedAt(job.provider, job.id)).map((d) => d.getTime()), nowMs: Date.now() };
    const wait = immediate ? 0 : tracking.deferral(input);
    // Webhooks are flowing for this job: no call to the provider, look again once it has been quiet for long.
    if (wait > 0) return once ? undefined : this.schedule(jobId, orgId, n + 1, wait);
    let retryAfterMs: number | undefined;
    let foundNews = false;
    try {
      const st = await plugin.getJobStatus(job.externalId);
      if (st) {
        const appended = await this.jobs.appendProviderLogLines(orgId, jobId, st.logLines ?? []);
        foundNews = appended > 0 || st.status !== job.status;
        await this.tracker.applyReport(toProviderEvent(job, st, 'poll'));
        if (isTerminal(st.status)) return;
        if (foundNews && input.contactsMs.length) this.logger.info({ jobId, appended, status: st.status }, 'poll found what no webhook delivered; polling faster');
      }
    } catch (err) {
      // A rate limit or an outage slows polling down; it never ends the chain of polls.
      if (!(err instanceof ProviderError && err.retryable)) throw err;
      retryAfterMs = err.retryAfterMs;
      this.logger.warn({ jobId, retryAfterMs, err: err.message }, 'poll deferred');
    }
    if (once) return;
    return this.schedule(jobId, orgId, n + 1, tracking.nextDelay({ ...input, nowMs: Date.now(), foundNews, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }));
  }

  private async schedule(jobId: string, orgId: string, n: number, delay: number): Promise<void> {
    await this.producer.add('poll', { v: 1, jobId, orgId, n }, queueJobId('poll', jobId, `p${n}`), { delay });
  }
}

import { PassThrough } from 'node:stream';
import { isTerminal, type JobStatus } from '@ct/job-domain';
import type { QueuePayload } from '@ct/contracts';
import { ArtifactRepository, enqueueInTx, JobRepository, JobTracker, type Job, type PrismaClient } from '@ct/persistence';
import { localDatasetsOf, planPackage, resolveDatasetDir, rewriteDataloader, writePackage } from '@ct/packaging';
import { BUCKETS, outputPrefix, packageKey, type StorageDriver } from '@ct/storage';
import type { Logger } from '@ct/logging';

/**
 * pending → packaging: scan every local dataset (exclusion rules), stream one zip straight into storage,
 * record the summary, rewrite the dataloader paths to the archive layout, then hand over to `dispatch`.
 * Idempotent: a retry or re-drive of a job past this step does nothing.
 */
export class PackageJobUseCase {
  private readonly jobs: JobRepository;
  private readonly tracker: JobTracker;
  private readonly artifacts: ArtifactRepository;

  constructor(private readonly prisma: PrismaClient, private readonly driver: StorageDriver, private readonly roots: string[], private readonly logger: Logger) {
    this.jobs = new JobRepository(prisma);
    this.tracker = new JobTracker(prisma);
    this.artifacts = new ArtifactRepository(prisma);
  }

  async execute({ jobId, orgId }: QueuePayload<'package'>): Promise<void> {
    const job = await this.start(orgId, jobId);
    if (!job) return;
    const log = this.logger.child({ jobId, orgId });
    const datasets = localDatasetsOf(job.dataloader as unknown[]);
    let rewritten = job.dataloader as unknown[];
    if (datasets.length > 0) {
      const resolved = [];
      for (const d of datasets) resolved.push({ id: d.id, dir: await resolveDatasetDir(d.dir, this.roots) });
      const summary = await this.zipIntoStorage(job, resolved);
      if (!summary) return;
      rewritten = rewriteDataloader(job.dataloader as unknown[], summary.datasets, '');
      log.info({ files: summary.files, bytes: summary.bytes, archiveBytes: summary.archiveBytes }, 'datasets packaged');
    }
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id: jobId, orgId, status: 'packaging' },
        data: { rewrittenDataloader: rewritten as object[], outputPrefix: outputPrefix(orgId, jobId) },
      });
      if (count === 1) await enqueueInTx(tx, 'dispatch', { v: 1, jobId, orgId });
    });
  }

  /** Moves a pending job to packaging; returns null when there is nothing (left) to do. */
  private async start(orgId: string, jobId: string): Promise<Job | null> {
    let job = await this.jobs.find(orgId, jobId);
    if (job?.status === 'pending') {
      const outcome = await this.tracker.transition({ orgId, jobId, to: 'packaging', from: ['pending'], reason: 'packaging datasets' });
      job = outcome.job;
    }
    if (!job || job.status !== 'packaging' || job.rewrittenDataloader !== null) return null;
    return job;
  }

  private async zipIntoStorage(job: Job, datasets: Array<{ id: string; dir: string }>) {
    const plan = await planPackage(datasets);
    const key = packageKey(job.orgId, job.id);
    const abort = new AbortController();
    // Cancel while packaging: stop writing as soon as the job is no longer packaging.
    const watch = setInterval(() => {
      void this.jobs.find(job.orgId, job.id).then((j) => {
        if (!j || isTerminal(j.status as JobStatus)) abort.abort(new Error('job ended while packaging'));
      });
    }, 500);
    try {
      const body = new PassThrough();
      const [summary] = await Promise.all([writePackage(plan, body, { signal: abort.signal }), this.driver.putObject(BUCKETS.datasets, key, body, { contentType: 'application/zip' })]);
      const recorded = { ...summary, storageKey: key };
      await this.artifacts.recordPackage(job.orgId, job.id, BUCKETS.datasets, recorded);
      await this.prisma.jobEvent.create({
        data: {
          orgId: job.orgId, jobId: job.id, fromStatus: 'packaging', toStatus: 'packaging',
          reason: `packaged ${summary.files} files (${summary.bytes} bytes) into a ${summary.archiveBytes}-byte archive`,
          data: recorded as object,
        },
      });
      return summary;
    } catch (err) {
      if (abort.signal.aborted) {
        await this.driver.deleteObject(BUCKETS.datasets, key).catch(() => undefined);
        this.logger.info({ jobId: job.id }, 'packaging stopped: the job ended');
        return null;
      }
      throw err;
    } finally {
      clearInterval(watch);
    }
  }
}

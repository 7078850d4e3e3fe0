import type { JobStatus } from '@ct/job-domain';
import { NotFoundError, DomainError, isTerminal } from '@ct/job-domain';
import { Prisma, type Job, type JobEvent, type JobLog } from './generated/prisma/client';
import type { PrismaClient, Tx } from './prisma';
import { enqueueInTx, publishInTx } from './outbox';
import { SpendRepository } from './spend.repository';

export type { Job, JobEvent, JobLog };

export interface NewJob {
  orgId: string;
  createdByKeyId: string | null;
  name: string;
  type: string;
  provider: string;
  config: Prisma.InputJsonValue;
  dataloader: Prisma.InputJsonValue;
  requirements: Prisma.InputJsonValue;
  hardwareProfile: string | null;
  idempotencyKey: string | null;
  maxRequeues: number;
  /** Consent given at submission: the digest of the preview the user saw. */
  consentDigest?: string | null;
  /** The cost estimate the submission was answered with, and its expected cost. */
  estimate?: Prisma.InputJsonValue | null;
  estimatedMicros?: bigint | null;
  /** The submission's own maximum runtime. */
  maxRuntimeS?: number | null;
  priority?: number;
  /** Admission against the spending limits (only for jobs a provider bills): the estimate is reserved. */
  spend?: { estimateMicros: bigint };
}

export interface JobFilter {
  status?: string | undefined;
  provider?: string | undefined;
  type?: string | undefined;
  limit: number;
  cursor?: { createdAt: Date; id: string } | undefined;
}

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/** What the job list shows of a job: everything but what it was submitted with and the provider's own state. */
export const JOB_LIST_COLUMNS = {
  id: true, orgId: true, name: true, type: true, provider: true, status: true, requirements: true, hardwareProfile: true,
  externalId: true, workerId: true, progress: true, costMicros: true, error: true, exitCode: true, requeueCount: true,
  outputPrefix: true, estimate: true, estimatedMicros: true, reservedMicros: true, limitWarnings: true, priority: true,
  waitingReason: true, consentRequest: true, consentDeadline: true, createdAt: true, updatedAt: true, startedAt: true,
  finishedAt: true, finalizedAt: true,
} as const satisfies Prisma.JobSelect;
export type JobListRow = Prisma.JobGetPayload<{ select: typeof JOB_LIST_COLUMNS }>;

/** The list's keyset query (ids and created_at only); exported for the test that reads its plan. */
export function listQuery(orgId: string, f: JobFilter): Prisma.Sql {
  const where = [Prisma.sql`org_id = ${orgId}`, Prisma.sql`deleted_at IS NULL`];
  if (f.status) where.push(Prisma.sql`status = ${f.status}`);
  if (f.provider) where.push(Prisma.sql`provider = ${f.provider}`);
  if (f.type) where.push(Prisma.sql`type = ${f.type}`);
  if (f.cursor) where.push(Prisma.sql`(created_at, id) < (${f.cursor.createdAt}::timestamptz, ${f.cursor.id})`);
  return Prisma.sql`SELECT id, created_at FROM jobs WHERE ${Prisma.join(where, ' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${f.limit + 1}`;
}

/** Jobs of one organisation. Every method is scoped by orgId. */
export class JobRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Creates the job, its first timeline event and the `package` work item in one transaction.
   * A repeated idempotency key (same caller, within 24 h) returns the first job instead.
   */
  async create(input: NewJob): Promise<{ job: Job; created: boolean }> {
    if (input.idempotencyKey) {
      const existing = await this.findByIdempotencyKey(input.orgId, input.createdByKeyId, input.idempotencyKey);
      if (existing) return { job: existing, created: false };
    }
    try {
      const { spend, ...row } = input;
      const job = await this.prisma.$transaction(async (tx) => {
        if (input.idempotencyKey) await this.releaseExpiredKey(tx, input);
        let job = await tx.job.create({
          data: {
            ...row,
            reservedMicros: spend?.estimateMicros ?? 0n,
            // A JSON column takes "no value" as undefined (null would mean JSON null).
            estimate: input.estimate ?? undefined,
            idempotencyExpiresAt: input.idempotencyKey ? new Date(Date.now() + IDEMPOTENCY_TTL_MS) : null,
          },
        });
        await enqueueInTx(tx, 'package', { v: 1, jobId: job.id, orgId: job.orgId });
        await publishInTx(tx, { type: 'job.changed', orgId: job.orgId, jobId: job.id, status: 'pending', reason: 'submitted', at: job.createdAt.toISOString() });
        const consent = input.consentDigest ? { consent: 'given_at_submission', by: input.createdByKeyId, digest: input.consentDigest, provider: input.provider } : undefined;
        await tx.jobEvent.create({ data: { orgId: job.orgId, jobId: job.id, toStatus: 'pending', reason: consent ? 'submitted with consent to upload the previewed datasets' : 'submitted', data: consent } });
        // Admission against the spending limits comes last: it takes the organisation's lock, held to the commit.
        const warnings = spend ? await new SpendRepository(this.prisma).admitInTx(tx, { orgId: input.orgId, provider: input.provider, estimateMicros: spend.estimateMicros }) : [];
        if (warnings.length) {
          job = await tx.job.update({ where: { id: job.id }, data: { limitWarnings: warnings.map((w) => ({ limit: w.limitId, message: w.message })) } });
          await tx.jobEvent.create({
            data: { orgId: job.orgId, jobId: job.id, fromStatus: 'pending', toStatus: 'pending', reason: `spending: ${warnings.map((w) => w.message).join('; ')}`, data: { spending_warnings: warnings.map((w) => w.message) } },
          });
        }
        return job;
      });
      return { job, created: true };
    } catch (err) {
      // Two requests with the same key raced: the unique index let exactly one through.
      if (input.idempotencyKey && (err as { code?: string }).code === 'P2002') {
        const existing = await this.findByIdempotencyKey(input.orgId, input.createdByKeyId, input.idempotencyKey);
        if (existing) return { job: existing, created: false };
      }
      throw err;
    }
  }

  private async findByIdempotencyKey(orgId: string, keyId: string | null, key: string): Promise<Job | null> {
    return this.prisma.job.findFirst({
      where: { orgId, createdByKeyId: keyId, idempotencyKey: key, idempotencyExpiresAt: { gt: new Date() } },
    });
  }

  /** An expired key may be used again: free it on the old job so the unique index allows the new one. */
  private async releaseExpiredKey(tx: Tx, input: NewJob): Promise<void> {
    await tx.job.updateMany({
      where: { orgId: input.orgId, createdByKeyId: input.createdByKeyId, idempotencyKey: input.idempotencyKey, idempotencyExpiresAt: { lte: new Date() } },
      data: { idempotencyKey: null, idempotencyExpiresAt: null },
    });
  }

  /**
   * The organisation's last completed runs on a provider and profile, as (steps trained, seconds run): what
   * cost estimates learn from. A run counts from `started_at` (the provider started it) to `finished_at`.
   */
  async runHistory(orgId: string, provider: string, hardwareProfile: string | null, limit = 50): Promise<Array<{ steps: number; seconds: number }>> {
    const rows = await this.prisma.job.findMany({
      where: { orgId, provider, hardwareProfile, status: 'completed', startedAt: { not: null }, finishedAt: { not: null } },
      orderBy: { finishedAt: 'desc' },
      select: { startedAt: true, finishedAt: true, progress: true },
      take: limit,
    });
    return rows.flatMap((r) => {
      const steps = (r.progress as { step?: unknown } | null)?.step;
      if (typeof steps !== 'number' || !r.startedAt || !r.finishedAt) return [];
      return [{ steps, seconds: (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000 }];
    });
  }

  async get(orgId: string, id: string): Promise<Job> {
    const job = await this.find(orgId, id);
    if (!job) throw new NotFoundError('Job', id);
    return job;
  }

  /** The job, unless it was deleted (a deleted job is gone for every user-facing purpose). */
  find(orgId: string, id: string): Promise<Job | null> {
    return this.prisma.job.findFirst({ where: { id, orgId, deletedAt: null } });
  }

  /** The job even when deleted and not yet purged (finalize and purge still have work to do on it). */
  findIncludingDeleted(orgId: string, id: string): Promise<Job | null> {
    return this.prisma.job.findFirst({ where: { id, orgId } });
  }

  /**
   * A page of the organisation's jobs, newest first. Keyset pagination on (created_at, id) as a row
   * comparison, which Postgres uses as an index condition (an OR of the two halves is only a filter: 64 ms
   * 50,000 rows deep, against 0.2 ms); an index per supported filter (org; org+status; org+provider;
   * org+status+provider; `type` is filtered on top, as every job so far is `training`), checked by a test
   * that reads the plans (job-list.int-spec.ts). The page is the ids first, then only the columns the list
   * shows (not the config and dataloader JSON).
   */
  async list(orgId: string, f: JobFilter): Promise<{ jobs: JobListRow[]; next: { createdAt: Date; id: string } | null }> {
    const rows = await this.prisma.$queryRaw<Array<{ id: string; created_at: Date }>>(listQuery(orgId, f));
    const page = rows.slice(0, f.limit);
    const found = await this.prisma.job.findMany({ where: { orgId, id: { in: page.map((r) => r.id) } }, select: JOB_LIST_COLUMNS });
    const byId = new Map(found.map((j) => [j.id, j]));
    const jobs = page.flatMap((r) => byId.get(r.id) ?? []);
    const last = page[page.length - 1];
    return { jobs, next: rows.length > f.limit && last ? { createdAt: last.created_at, id: last.id } : null };
  }

  /**
   * Deletes a terminal job: it disappears from the API at once (with its timeline and logs), and the
   * `purge` step (same transaction) removes its package and, unless kept, its outputs from storage, then
   * the row. Their index rows go at once, so the objects vanish from listings before the purge has run.
   */
  async delete(orgId: string, id: string, opts: { keepOutputs?: boolean } = {}): Promise<void> {
    const job = await this.get(orgId, id);
    if (!isTerminal(job.status as JobStatus)) {
      throw new DomainError('job_not_terminal', `Job ${id} is ${job.status}; cancel it first, then delete it.`, { status: job.status });
    }
    const keepOutputs = opts.keepOutputs ?? false;
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id, orgId, status: job.status, deletedAt: null },
        // The idempotency key is free again: a new submission with it makes a new job.
        data: { deletedAt: new Date(), keepOutputs, idempotencyKey: null, idempotencyExpiresAt: null },
      });
      if (count === 0) throw new DomainError('conflict', `Job ${id} changed while it was being deleted; try again.`);
      await tx.artifact.deleteMany({ where: { orgId, OR: [{ bucket: 'datasets', key: `${orgId}/${id}.zip` }, ...(keepOutputs ? [] : [{ bucket: 'outputs', key: { startsWith: `${orgId}/${id}/` } }])] } });
      await enqueueInTx(tx, 'purge', { v: 1, jobId: id, orgId, keepOutputs });
    });
  }

  events(orgId: string, jobId: string): Promise<JobEvent[]> {
    return this.prisma.jobEvent.findMany({ where: { orgId, jobId }, orderBy: { id: 'asc' } });
  }

  logs(orgId: string, jobId: string, afterId: bigint, limit: number): Promise<JobLog[]> {
    return this.prisma.jobLog.findMany({ where: { orgId, jobId, id: { gt: afterId } }, orderBy: { id: 'asc' }, take: limit });
  }

  /**
   * Providers return the whole log each time; store only the lines past what we already have. The counter
   * is compare-and-set, so a webhook and a poll racing with the same log store it once.
   */
  /**
   * Stores the lines of a provider's full log text that are new since the last call (the provider sends
   * all of it each time). Runs in `tx` when given, so the caller can commit it with other work.
   */
  async appendProviderLogLines(orgId: string, jobId: string, allLines: string[], tx?: Tx): Promise<number> {
    if (!tx) return this.prisma.$transaction((t) => this.appendProviderLogLines(orgId, jobId, allLines, t));
    const job = await tx.job.findFirst({ where: { id: jobId, orgId }, select: { providerLogLines: true } });
    if (!job || allLines.length <= job.providerLogLines) return 0;
    const fresh = allLines.slice(job.providerLogLines);
    const { count } = await tx.job.updateMany({ where: { id: jobId, providerLogLines: job.providerLogLines }, data: { providerLogLines: allLines.length } });
    if (count !== 1) return 0;
    await tx.jobLog.createMany({ data: fresh.map((line) => ({ orgId, jobId, stream: 'provider', line: line.slice(0, 16_384) })) });
    return fresh.length;
  }

  async appendLogs(orgId: string, jobId: string, lines: Array<{ stream: string; line: string; ts?: Date }>): Promise<void> {
    await this.prisma.jobLog.createMany({ data: lines.map((l) => ({ orgId, jobId, stream: l.stream, line: l.line, ts: l.ts ?? new Date() })) });
  }
}

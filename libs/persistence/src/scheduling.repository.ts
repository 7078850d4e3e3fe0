import { DomainError, NotFoundError, TERMINAL_STATUSES } from '@ct/job-domain';
import { Prisma, type Job } from './generated/prisma/client';
import type { PrismaClient, Tx } from './prisma';

export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 10;
/**
 * Aging: every this many seconds a job has waited are worth one priority level, so nothing starves; a
 * priority-1 job is ahead of any fresh submission after at most (10 − 1) × 10 min. Because all jobs age
 * alike, the order of two jobs does not depend on when it is read: it is `queue_key` = created_at −
 * priority × AGING_SECONDS, ascending, stored and indexed for the waiting jobs (a trigger keeps it; migration 20261203110000).
 */
export const AGING_SECONDS = 600;
/** Before a job is handed to its provider: these states still let its priority change. */
const REORDERABLE = ['pending', 'packaging', 'awaiting_consent', 'waiting', 'queued'];

/** The queue's order, everywhere (dispatch and worker claims): priority with aging, then submission. */
export const SCHEDULING_ORDER = Prisma.sql`queue_key, id`;

/**
 * The jobs holding a concurrency slot: admitted and not ended. Literal, so that the planner matches it to the
 * predicate of the partial index jobs_admitted_active_partial (a parameter would not prove it).
 */
const HOLDS_SLOT = Prisma.raw(`admitted_at IS NOT NULL AND status NOT IN (${TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`);

/**
 * Where a job stands, in one statement: how many waiting jobs are ahead of it in the queue's order and how many
 * wait in all (one pass over the partial index jobs_waiting_queue_partial, counted, index-only: no list of ids
 * read back), how many jobs of its provider hold a slot (jobs_admitted_active_partial), and the organisation's
 * own limit for it. `ahead` is null when the job is not waiting. Its plan is checked by a test (scheduling.int-spec.ts).
 */
export function positionQuery(orgId: string, provider: string, jobId: string): Prisma.Sql {
  return Prisma.sql`
    WITH me AS (SELECT queue_key, id FROM jobs WHERE id = ${jobId} AND status = 'waiting' AND admitted_at IS NULL),
    -- Ordered as the index is, so that the planner takes the index-only path even when nearly every job is
    -- waiting (it would read the whole table instead: 8 ms against 1.8 ms at 10,000 waiting, measured).
    w AS (SELECT j.queue_key, j.id FROM jobs j WHERE j.provider = ${provider} AND j.status = 'waiting' AND j.admitted_at IS NULL ORDER BY j.provider, j.queue_key, j.id),
    q AS (SELECT count(*) FILTER (WHERE (w.queue_key, w.id) < ((SELECT queue_key FROM me), (SELECT id FROM me))) AS ahead, count(*) AS waiting FROM w)
    SELECT CASE WHEN EXISTS (SELECT 1 FROM me) THEN q.ahead END AS ahead, q.waiting,
           (SELECT count(*) FROM jobs WHERE provider = ${provider} AND ${HOLDS_SLOT}) AS in_use,
           (SELECT max_jobs FROM concurrency_limits WHERE org_id = ${orgId} AND provider = ${provider}) AS own_limit
    FROM q`;
}

export interface ConcurrencySettings {
  defaultPriority: number;
  limits: Array<{ provider: string; maxJobs: number }>;
}

export interface Admission {
  admitted: boolean;
  /** Other waiting jobs this pass gave a slot: their dispatch step must be woken. */
  others: Array<{ id: string; orgId: string }>;
  /** Why the job waits, when it was not admitted. */
  reason: string | null;
}

/**
 * Concurrency limits that gate dispatch, in priority order with aging. A job holds a slot from its
 * admission (`admitted_at`) until it ends. Admission fills the free slots of a provider in queue order under
 * that provider's lock, so two dispatchers never hand out one slot twice; a job that ends wakes the dispatch
 * of a waiting one (JobTracker), which fills the freed slot: nothing waits on a timer.
 */
export class SchedulingRepository {
  /** `globalLimits`: the most jobs of each provider running at once in the whole deployment (PROVIDER_CONCURRENCY). */
  constructor(private readonly prisma: PrismaClient, private readonly globalLimits: Readonly<Record<string, number>> = {}) {}

  async defaultPriority(orgId: string): Promise<number> {
    return (await this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { defaultPriority: true } })).defaultPriority;
  }

  async settings(orgId: string): Promise<ConcurrencySettings> {
    const [org, limits] = await Promise.all([
      this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { defaultPriority: true } }),
      this.prisma.concurrencyLimit.findMany({ where: { orgId }, orderBy: { provider: 'asc' } }),
    ]);
    return { defaultPriority: org.defaultPriority, limits: limits.map((l) => ({ provider: l.provider, maxJobs: l.maxJobs })) };
  }

  async replaceSettings(orgId: string, s: ConcurrencySettings): Promise<ConcurrencySettings> {
    await this.prisma.$transaction(async (tx) => {
      await tx.organization.update({ where: { id: orgId }, data: { defaultPriority: s.defaultPriority } });
      await tx.concurrencyLimit.deleteMany({ where: { orgId } });
      if (s.limits.length) await tx.concurrencyLimit.createMany({ data: s.limits.map((l) => ({ orgId, ...l })) });
    });
    return this.settings(orgId);
  }

  /** Admission of one job (being dispatched) and of whichever waiting jobs of its provider fit beside it. */
  async admit(orgId: string, jobId: string, provider: string): Promise<Admission> {
    // No limit on this provider at all (the common case): admission is one update, no lock.
    if (this.globalLimits[provider] === undefined && (await this.prisma.concurrencyLimit.count({ where: { provider: { in: [provider, '*'] } } })) === 0) {
      await this.prisma.job.updateMany({ where: { id: jobId, orgId, admittedAt: null }, data: { admittedAt: new Date(), waitingReason: null } });
      return { admitted: true, others: [], reason: null };
    }
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`ct:schedule:${provider}`}))`;
      const global = this.globalLimits[provider];
      const orgLimits = await tx.concurrencyLimit.findMany({ where: { provider: { in: [provider, '*'] } } });
      if (global === undefined && orgLimits.length === 0) {
        await tx.job.updateMany({ where: { id: jobId, orgId, admittedAt: null }, data: { admittedAt: new Date(), waitingReason: null } });
        return { admitted: true, others: [], reason: null };
      }
      // This job and the head of the waiting queue (the partial index jobs_waiting_queue_partial), in queue order.
      const candidates = await tx.$queryRaw<Array<{ id: string; org_id: string }>>`
        SELECT id, org_id FROM (
          (SELECT id, org_id, queue_key FROM jobs WHERE id = ${jobId} AND admitted_at IS NULL)
          UNION
          (SELECT id, org_id, queue_key FROM jobs WHERE provider = ${provider} AND status = 'waiting' AND admitted_at IS NULL ORDER BY queue_key, id LIMIT 1000)
        ) c ORDER BY ${SCHEDULING_ORDER}`;
      const inUse = await this.inUse(tx, provider, orgLimits.some((l) => l.provider === '*'));
      const limitOf = (org: string, p: string) => orgLimits.find((l) => l.orgId === org && l.provider === p)?.maxJobs;
      const admitted: Array<{ id: string; orgId: string }> = [];
      let reason: string | null = null;
      for (const c of candidates) {
        const own = limitOf(c.org_id, provider);
        const all = limitOf(c.org_id, '*');
        const mine = inUse.byOrg.get(c.org_id) ?? 0;
        const mineAll = inUse.allByOrg.get(c.org_id) ?? 0;
        const full = global !== undefined && inUse.total >= global;
        let why: string | null = null;
        if (full) why = `${inUse.total} of ${global} ${provider} slots in use`;
        else if (own !== undefined && mine >= own) why = `your organisation's ${mine} of ${own} ${provider} slots in use`;
        else if (all !== undefined && mineAll >= all) why = `your organisation's ${mineAll} of ${all} slots (all providers) in use`;
        if (why === null) {
          admitted.push({ id: c.id, orgId: c.org_id });
          inUse.total++;
          inUse.byOrg.set(c.org_id, mine + 1);
          inUse.allByOrg.set(c.org_id, mineAll + 1);
          continue;
        }
        if (c.id === jobId) reason = why;
        // Nothing further can fit once the provider is full and this job's answer is known.
        if (full && (reason !== null || admitted.some((a) => a.id === jobId))) break;
      }
      // Only this job's reason is written (how many are ahead is read live: position()); rewriting every waiting job's made each pass O(waiting).
      if (reason !== null) await tx.job.updateMany({ where: { id: jobId, admittedAt: null }, data: { waitingReason: reason } });
      if (admitted.length) await tx.job.updateMany({ where: { id: { in: admitted.map((a) => a.id) } }, data: { admittedAt: new Date(), waitingReason: null } });
      const self = admitted.some((a) => a.id === jobId);
      return { admitted: self, others: admitted.filter((a) => a.id !== jobId), reason: self ? null : (reason ?? `more than ${candidates.length} ${provider} jobs ahead`) };
    });
  }

  /** A new priority for a job not yet handed to its provider, with its timeline event. */
  async setPriority(orgId: string, jobId: string, priority: number, by: string | null): Promise<Job> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, orgId, deletedAt: null } });
    if (!job) throw new NotFoundError('Job', jobId);
    const updated = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({ where: { id: jobId, orgId, status: { in: REORDERABLE } }, data: { priority } });
      if (count !== 1) return null;
      await tx.jobEvent.create({ data: { orgId, jobId, fromStatus: job.status, toStatus: job.status, reason: `priority changed from ${job.priority} to ${priority}`, data: { by, from: job.priority, to: priority } } });
      return tx.job.findUniqueOrThrow({ where: { id: jobId } });
    });
    if (!updated) throw new DomainError('job_not_waiting', `Job ${jobId} is ${job.status}: its priority only matters before it is handed to its provider.`, { status: job.status });
    return updated;
  }

  /** The median run (seconds from start to end) of the organisation's last 50 completed jobs on a provider, or null. */
  async medianRunSeconds(orgId: string, provider: string): Promise<number | null> {
    const [row] = await this.prisma.$queryRaw<Array<{ s: number | null }>>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))::float AS s
      FROM (SELECT finished_at, started_at FROM jobs WHERE org_id = ${orgId} AND provider = ${provider} AND status = 'completed' AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT 50) r`;
    return row?.s ?? null;
  }

  /** Where a job stands: its place among the provider's waiting jobs, and the slots. */
  async position(orgId: string, jobId: string): Promise<{ status: string; provider: string; position: number | null; waiting: number; inUse: number; limit: number | null; reason: string | null } | null> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, orgId, deletedAt: null }, select: { status: true, provider: true, waitingReason: true, admittedAt: true } });
    if (!job) return null;
    const [counts] = await this.prisma.$queryRaw<Array<{ ahead: bigint | null; waiting: bigint; in_use: bigint; own_limit: number | null }>>(positionQuery(orgId, job.provider, jobId));
    const ahead = counts?.ahead ?? null;
    const n = counts?.in_use ?? 0n;
    const own = counts?.own_limit === null || counts?.own_limit === undefined ? undefined : { maxJobs: counts.own_limit };
    const limits = [this.globalLimits[job.provider], own?.maxJobs].filter((x): x is number => x !== undefined);
    return { status: job.status, provider: job.provider, position: ahead === null ? null : Number(ahead) + 1, waiting: Number(counts?.waiting ?? 0), inUse: Number(n), limit: limits.length ? Math.min(...limits) : null,
      reason: job.waitingReason && ahead !== null ? `${job.waitingReason}; ${ahead === 0n ? 'next in line' : `${ahead} ahead of you`}` : job.waitingReason,
    };
  }

  private async inUse(tx: Tx, provider: string, allProviders: boolean) {
    const rows = await tx.$queryRaw<Array<{ org_id: string; provider: string; n: bigint }>>`
      SELECT org_id, provider, count(*)::bigint AS n FROM jobs
      WHERE ${HOLDS_SLOT} AND (${allProviders} OR provider = ${provider})
      GROUP BY org_id, provider`;
    const byOrg = new Map<string, number>();
    const allByOrg = new Map<string, number>();
    let total = 0;
    for (const r of rows) {
      allByOrg.set(r.org_id, (allByOrg.get(r.org_id) ?? 0) + Number(r.n));
      if (r.provider !== provider) continue;
      byOrg.set(r.org_id, Number(r.n));
      total += Number(r.n);
    }
    return { total, byOrg, allByOrg };
  }
}

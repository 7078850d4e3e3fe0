import { DateTime } from 'luxon';
import { DomainError, dollarsFromMicros, isTerminal, type JobStatus, type Micros } from '@ct/job-domain';
import { Prisma, type CostLimit, type RuntimeLimit } from './generated/prisma/client';
import { JobTracker } from './job-tracker';
import type { PrismaClient, Tx } from './prisma';

export type { CostLimit, RuntimeLimit };
export const LIMIT_PERIODS = ['day', 'week', 'month'] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];
/** A share of a limit at which the job and the status warn. */
export const WARN_AT = 0.8;

export interface LimitUsage {
  limit: CostLimit;
  windowStart: Date;
  windowEnd: Date;
  /** What the jobs of the window cost: settled for ended jobs, accrued so far for running ones. */
  spentMicros: Micros;
  /** What active jobs hold beyond what they cost so far (their estimate, until they end). */
  reservedMicros: Micros;
  usedMicros: Micros;
}

export interface AdmissionWarning {
  limitId: string;
  provider: string;
  period: LimitPeriod;
  message: string;
}

/** What a job records of the limits it came near or passed (`jobs.limit_warnings`), once per limit. */
export interface JobLimitWarning {
  limit: string;
  message: string;
}

export interface LimitsDocument {
  timeZone: string;
  limits: Array<{ provider: string; period: LimitPeriod; amountMicros: Micros; action: 'warn' | 'block' }>;
  runtime: Array<{ provider: string; maxSeconds: number }>;
}

/** The window a limit covers now: today, this ISO week (from Monday) or this month, in the organisation's time zone. */
export function periodWindow(period: LimitPeriod, timeZone: string, now = new Date()): { start: Date; end: Date } {
  const start = DateTime.fromJSDate(now, { zone: timeZone }).startOf(period);
  return { start: start.toJSDate(), end: start.plus({ [`${period}s`]: 1 }).toJSDate() };
}

export function isTimeZone(tz: string): boolean {
  return DateTime.now().setZone(tz).isValid;
}

const usd = (m: Micros) => `$${dollarsFromMicros(m).toFixed(2)}`;
const scope = (l: { provider: string; period: string }) => `${l.period === 'day' ? 'daily' : `${l.period}ly`} limit${l.provider === '*' ? '' : ` for ${l.provider}`}`;

/**
 * The spending ledger and its limits. A job's spend counts in the window of its submission; while it is
 * active it counts as max(reserved, accrued), once ended as what it cost. Admission reserves a job's estimate
 * inside the transaction that creates it, under a row lock on its organisation, so concurrent submissions are
 * admitted one after the other and the reserved and spent total never passes a block limit.
 */
export class SpendRepository {
  private readonly tracker: JobTracker;

  constructor(private readonly prisma: PrismaClient) {
    this.tracker = new JobTracker(prisma);
  }

  async document(orgId: string): Promise<LimitsDocument> {
    const [org, limits, runtime] = await Promise.all([
      this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { timeZone: true } }),
      this.prisma.costLimit.findMany({ where: { orgId }, orderBy: [{ provider: 'asc' }, { period: 'asc' }] }),
      this.prisma.runtimeLimit.findMany({ where: { orgId }, orderBy: { provider: 'asc' } }),
    ]);
    return {
      timeZone: org.timeZone,
      limits: limits.map((l) => ({ provider: l.provider, period: l.period as LimitPeriod, amountMicros: l.amountMicros, action: l.action as 'warn' | 'block' })),
      runtime: runtime.map((r) => ({ provider: r.provider, maxSeconds: r.maxSeconds })),
    };
  }

  /** Replaces the organisation's limits with these (one transaction). */
  async replace(orgId: string, doc: LimitsDocument): Promise<LimitsDocument> {
    // The windows are computed by Postgres: its time zone database must know the name too.
    const [known] = await this.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*)::bigint AS n FROM pg_timezone_names WHERE name = ${doc.timeZone}`;
    if (!known?.n) throw new DomainError('validation_failed', `"${doc.timeZone}" is not a time zone this deployment's database knows (e.g. UTC, Europe/Berlin, America/New_York).`, { field: 'time_zone' });
    await this.prisma.$transaction(async (tx) => {
      await tx.organization.update({ where: { id: orgId }, data: { timeZone: doc.timeZone } });
      await tx.costLimit.deleteMany({ where: { orgId } });
      await tx.runtimeLimit.deleteMany({ where: { orgId } });
      if (doc.limits.length) await tx.costLimit.createMany({ data: doc.limits.map((l) => ({ orgId, ...l })) });
      if (doc.runtime.length) await tx.runtimeLimit.createMany({ data: doc.runtime.map((r) => ({ orgId, ...r })) });
    });
    return this.document(orgId);
  }

  /** Every limit of the organisation with what its window holds now. */
  async status(orgId: string, now = new Date()): Promise<{ timeZone: string; usage: LimitUsage[] }> {
    const org = await this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { timeZone: true } });
    return { timeZone: org.timeZone, usage: await this.usage(this.prisma, orgId, null, now) };
  }

  /**
   * What the window of each limit (of one provider and `*`, or all) holds now: windows in the organisation's
   * time zone over the ledger's quarter-hour counters, computed by ct_limit_usage (migration 20261203125000).
   * `admission` reads through ct_admission_usage instead: the organisation's lock, then the same usage.
   */
  private async usage(db: PrismaClient | Tx, orgId: string, provider: string | null, now: Date, admission = false): Promise<LimitUsage[]> {
    const fn = admission ? Prisma.sql`ct_admission_usage` : Prisma.sql`ct_limit_usage`;
    const rows = await db.$queryRaw<Array<{ id: string; org_id: string; provider: string; period: string; amount_micros: bigint; action: string; created_at: Date; start_at: Date; end_at: Date; spent: bigint; reserved: bigint }>>`
      SELECT * FROM ${fn}(${orgId}, ${provider}::text, ${now}::timestamptz)`;
    return rows.map((r) => ({
      limit: { id: r.id, orgId: r.org_id, provider: r.provider, period: r.period, amountMicros: r.amount_micros, action: r.action, createdAt: r.created_at },
      windowStart: r.start_at, windowEnd: r.end_at, spentMicros: r.spent, reservedMicros: r.reserved, usedMicros: r.spent + r.reserved,
    }));
  }

  /**
   * Admission against the spending limits, inside the transaction that creates the job: refuses (422
   * `cost_limit_exceeded`) when the job's estimate would carry a block limit's window past its amount, and
   * answers the warnings (a warn limit passed, or 80 % of any limit reached). The organisation's row lock
   * makes concurrent submissions take their turn, so what they reserve never passes a block limit: the
   * counters a submission reads include every earlier one, whose trigger ran at its commit. This job's own
   * reservation is not in them yet (the trigger is deferred to the commit), so its estimate is added here.
   */
  async admitInTx(tx: Tx, input: { orgId: string; provider: string; estimateMicros: Micros }, now = new Date()): Promise<AdmissionWarning[]> {
    const warnings: AdmissionWarning[] = [];
    // One round trip: no limit, no lock; else the organisation's lock, then the windows' usage.
    for (const u of await this.usage(tx, input.orgId, input.provider, now, true)) {
      const limit = u.limit;
      const after = u.usedMicros + input.estimateMicros;
      const what = `the ${scope(limit)} of ${usd(limit.amountMicros)}`;
      if (after > limit.amountMicros && limit.action === 'block') {
        throw new DomainError(
          'cost_limit_exceeded',
          `This job's estimate (${usd(input.estimateMicros)}) would pass ${what}: ${usd(u.usedMicros)} is already spent or reserved since ${u.windowStart.toISOString()}. Wait for the next ${limit.period}, or ask an admin to raise the limit (PUT /api/cloud/cost-limits).`,
          { provider: limit.provider, period: limit.period, amount_usd: dollarsFromMicros(limit.amountMicros), used_usd: dollarsFromMicros(u.usedMicros), estimate_usd: dollarsFromMicros(input.estimateMicros) },
        );
      }
      if (after > limit.amountMicros) warnings.push({ limitId: limit.id, provider: limit.provider, period: limit.period as LimitPeriod, message: `passes ${what} (${usd(after)} with this job)` });
      else if (Number(after) >= WARN_AT * Number(limit.amountMicros)) warnings.push({ limitId: limit.id, provider: limit.provider, period: limit.period as LimitPeriod, message: `${Math.floor((Number(after) / Number(limit.amountMicros)) * 100)} % of ${what} used with this job (${usd(after)})` });
    }
    return warnings;
  }

  /**
   * The guard (maintenance): runs past their maximum runtime are cancelled; running jobs in the window of a
   * block limit that is passed, and that carry spend beyond what they reserved, are cancelled once the grace
   * is over, with a reason that names the limit; at 80 % of a limit each running job under it says so once.
   */
  async guard(graceMs: number, now = new Date()): Promise<{ cancelled: number; warned: number }> {
    let cancelled = 0;
    let warned = 0;
    cancelled += await this.enforceRuntime(now);
    const orgIds = (await this.prisma.costLimit.findMany({ distinct: ['orgId'], select: { orgId: true } })).map((r) => r.orgId);
    for (const orgId of orgIds) {
      for (const u of (await this.status(orgId, now)).usage) {
        const active = await this.prisma.job.findMany({
          where: {
            orgId, status: { in: ['uploading', 'queued', 'running'] }, createdAt: { gte: u.windowStart, lt: u.windowEnd },
            ...(u.limit.provider === '*' ? {} : { provider: u.limit.provider }),
          },
          select: { id: true, orgId: true, status: true, costMicros: true, reservedMicros: true, overLimitSince: true, limitWarnings: true },
        });
        const what = `the ${scope(u.limit)} of ${usd(u.limit.amountMicros)}`;
        if (Number(u.usedMicros) >= WARN_AT * Number(u.limit.amountMicros)) {
          for (const j of active) {
            const seen = (j.limitWarnings as JobLimitWarning[] | null) ?? [];
            if (seen.some((w) => w.limit === u.limit.id)) continue;
            const reason = `${Math.floor((Number(u.usedMicros) / Number(u.limit.amountMicros)) * 100)} % of ${what} used (${usd(u.usedMicros)})`;
            await this.prisma.$transaction([
              this.prisma.job.update({ where: { id: j.id }, data: { limitWarnings: [...seen, { limit: u.limit.id, message: reason }] as object[] } }),
              this.prisma.jobEvent.create({ data: { orgId, jobId: j.id, fromStatus: j.status, toStatus: j.status, reason, data: { limit: { provider: u.limit.provider, period: u.limit.period, amount_usd: dollarsFromMicros(u.limit.amountMicros) }, used_usd: dollarsFromMicros(u.usedMicros) } } }),
            ]);
            warned++;
          }
        }
        if (u.limit.action !== 'block' || u.usedMicros <= u.limit.amountMicros) continue;
        for (const j of active.filter((x) => x.costMicros > x.reservedMicros)) {
          if (!j.overLimitSince) {
            await this.prisma.job.updateMany({ where: { id: j.id, overLimitSince: null }, data: { overLimitSince: now } });
            continue;
          }
          if (now.getTime() - j.overLimitSince.getTime() < graceMs) continue;
          const outcome = await this.tracker.transition({
            orgId, jobId: j.id, to: 'cancelled', from: ['uploading', 'queued', 'running'],
            reason: `cancelled: ${what} was passed (${usd(u.usedMicros)} spent or reserved since ${u.windowStart.toISOString()})`,
            patch: { cancelRequestedAt: now }, data: { limit: { provider: u.limit.provider, period: u.limit.period, action: 'block', amount_usd: dollarsFromMicros(u.limit.amountMicros) }, used_usd: dollarsFromMicros(u.usedMicros) },
          });
          if (outcome.applied) cancelled++;
        }
      }
    }
    return { cancelled, warned };
  }

  /** Spend of the last `days` days (from the start of the first, in the organisation's time zone): total, by day, by provider, jobs by status. */
  async metrics(orgId: string, days: number, now = new Date()) {
    const { timeZone } = await this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { timeZone: true } });
    const since = DateTime.fromJSDate(now, { zone: timeZone }).startOf('day').minus({ days: days - 1 }).toJSDate();
    const [byDay, byProvider, byStatus] = await Promise.all([
      this.prisma.$queryRaw<Array<{ day: string; cost: bigint; jobs: bigint }>>`
        SELECT to_char(created_at AT TIME ZONE ${timeZone}, 'YYYY-MM-DD') AS day, sum(cost_micros)::bigint AS cost, count(*)::bigint AS jobs
        FROM jobs WHERE org_id = ${orgId} AND created_at >= ${since} GROUP BY 1 ORDER BY 1`,
      this.prisma.$queryRaw<Array<{ provider: string; cost: bigint; jobs: bigint }>>`
        SELECT provider, sum(cost_micros)::bigint AS cost, count(*)::bigint AS jobs
        FROM jobs WHERE org_id = ${orgId} AND created_at >= ${since} GROUP BY 1 ORDER BY 2 DESC, 1`,
      this.prisma.$queryRaw<Array<{ status: string; jobs: bigint }>>`
        SELECT status, count(*)::bigint AS jobs FROM jobs WHERE org_id = ${orgId} AND created_at >= ${since} AND deleted_at IS NULL GROUP BY 1`,
    ]);
    return {
      since, timeZone,
      totalMicros: byDay.reduce((a, r) => a + r.cost, 0n),
      byDay: byDay.map((r) => ({ day: r.day, costMicros: r.cost, jobs: Number(r.jobs) })),
      byProvider: byProvider.map((r) => ({ provider: r.provider, costMicros: r.cost, jobs: Number(r.jobs) })),
      jobsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, Number(r.jobs)])),
    };
  }

  private async enforceRuntime(now: Date): Promise<number> {
    const limits = await this.prisma.runtimeLimit.findMany();
    const byOrg = new Map(limits.map((l) => [`${l.orgId}\u0000${l.provider}`, l.maxSeconds]));
    const running = await this.prisma.job.findMany({
      where: { status: 'running', startedAt: { not: null }, OR: [{ maxRuntimeS: { not: null } }, ...(limits.length ? [{ orgId: { in: [...new Set(limits.map((l) => l.orgId))] } }] : [])] },
      select: { id: true, orgId: true, provider: true, status: true, startedAt: true, maxRuntimeS: true },
    });
    let n = 0;
    for (const j of running) {
      const caps = [j.maxRuntimeS, byOrg.get(`${j.orgId}\u0000${j.provider}`)].filter((x): x is number => typeof x === 'number');
      if (caps.length === 0 || isTerminal(j.status as JobStatus)) continue;
      const max = Math.min(...caps);
      if (now.getTime() - (j.startedAt as Date).getTime() <= max * 1000) continue;
      const outcome = await this.tracker.transition({
        orgId: j.orgId, jobId: j.id, to: 'cancelled', from: ['running'], reason: `cancelled: ran past its maximum runtime of ${max} s`,
        patch: { cancelRequestedAt: now }, data: { maxRuntimeSeconds: max },
      });
      if (outcome.applied) n++;
    }
    return n;
  }
}

import { Controller, Get, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, dollarsFromMicros, microsFromDollars } from '@ct/job-domain';
import {
  costEstimateSchema, costLimitsBodySchema, costLimitsSchema, costLimitStatusSchema, spendMetricsQuerySchema, spendMetricsSchema, submitJobBodySchema,
  type CostEstimateView, type CostLimitsBody, type CostLimitStatusView, type CostLimitsView, type SpendMetricsQuery, type SpendMetricsView, type SubmitJobBody,
} from '@ct/contracts';
import { isTimeZone, SpendRepository, WARN_AT, type LimitsDocument, type Principal } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ApiAuthProblems, ApiJson, ApiProblems, ZodBody, ZodQuery } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { CostEstimator } from './cost-estimator';

const limitsView = (d: LimitsDocument): CostLimitsView => ({
  time_zone: d.timeZone,
  limits: d.limits.map((l) => ({ provider: l.provider, period: l.period, amount_usd: dollarsFromMicros(l.amountMicros), action: l.action })),
  max_runtime: d.runtime.map((r) => ({ provider: r.provider, max_seconds: r.maxSeconds })),
});

/** What a job will cost before it is submitted; the organisation's spending limits and what it spent. */
@ApiTags('costs')
@ApiKeyAuth()
@Controller('api/cloud')
export class CostsController {
  constructor(private readonly estimator: CostEstimator, private readonly registry: ProviderRegistry, private readonly spend: SpendRepository) {}

  @Post('cost-estimate')
  @ApiOperation({ summary: 'The expected run time and cost of a submission (same body), with its range and basis; nothing is created' })
  @ApiJson(200, costEstimateSchema, 'the estimate (`estimate` null, with a `reason`, when nothing fits)')
  @ApiProblems('provider_unknown', 'provider_unavailable')
  async estimate(@CurrentPrincipal() p: Principal, @ZodBody(submitJobBodySchema, 'job submission') body: SubmitJobBody): Promise<CostEstimateView> {
    const provider = this.registry.definition(body.provider ?? 'local').name;
    return (await this.estimator.estimate(p.orgId, provider, { config: body.config, hardwareProfile: body.hardware_profile ?? null })).view;
  }

  @Get('cost-limits')
  @ApiOperation({ summary: "The organisation's spending limits and maximum runtimes" })
  @ApiJson(200, costLimitsSchema, 'the limits')
  @ApiProblems()
  async limits(@CurrentPrincipal() p: Principal): Promise<CostLimitsView> {
    return limitsView(await this.spend.document(p.orgId));
  }

  @Put('cost-limits')
  @AdminOnly()
  @ApiAuthProblems('forbidden')
  @ApiOperation({ summary: "Replace the organisation's spending limits (per provider or `*`, per day, week or month, warn or block) and maximum runtimes" })
  @ApiJson(200, costLimitsSchema, 'the limits now')
  @ApiProblems('provider_unknown')
  async putLimits(@CurrentPrincipal() p: Principal, @ZodBody(costLimitsBodySchema, 'spending limits') body: CostLimitsBody): Promise<CostLimitsView> {
    if (!isTimeZone(body.time_zone)) throw new DomainError('validation_failed', `"${body.time_zone}" is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York).`, { field: 'time_zone' });
    const seen = new Set<string>();
    for (const l of body.limits) {
      if (l.provider !== '*') this.registry.definition(l.provider);
      const key = `${l.provider}/${l.period}`;
      if (seen.has(key)) throw new DomainError('validation_failed', `Two limits for ${l.provider === '*' ? 'all providers' : l.provider} per ${l.period}; give one.`, { field: 'limits' });
      seen.add(key);
      if (microsFromDollars(l.amount_usd) <= 0n) throw new DomainError('validation_failed', 'A limit must be at least one micro-dollar.', { field: 'limits' });
    }
    for (const r of body.max_runtime) this.registry.definition(r.provider);
    if (new Set(body.max_runtime.map((r) => r.provider)).size !== body.max_runtime.length) throw new DomainError('validation_failed', 'One maximum runtime per provider.', { field: 'max_runtime' });
    return limitsView(
      await this.spend.replace(p.orgId, {
        timeZone: body.time_zone,
        limits: body.limits.map((l) => ({ provider: l.provider, period: l.period, amountMicros: microsFromDollars(l.amount_usd), action: l.action })),
        runtime: body.max_runtime.map((r) => ({ provider: r.provider, maxSeconds: r.max_seconds })),
      }),
    );
  }

  @Get('cost-limit/status')
  @ApiOperation({ summary: 'Each spending limit with what its current window has spent and reserved' })
  @ApiJson(200, costLimitStatusSchema, 'the status of every limit')
  @ApiProblems()
  async status(@CurrentPrincipal() p: Principal): Promise<CostLimitStatusView> {
    const { timeZone, usage } = await this.spend.status(p.orgId);
    return {
      time_zone: timeZone,
      limits: usage.map((u) => {
        const fraction = Number(u.usedMicros) / Number(u.limit.amountMicros);
        return {
          provider: u.limit.provider, period: u.limit.period as 'day' | 'week' | 'month', action: u.limit.action as 'warn' | 'block',
          amount_usd: dollarsFromMicros(u.limit.amountMicros), window_start: u.windowStart.toISOString(), window_end: u.windowEnd.toISOString(),
          spent_usd: dollarsFromMicros(u.spentMicros), reserved_usd: dollarsFromMicros(u.reservedMicros), used_usd: dollarsFromMicros(u.usedMicros),
          used_fraction: Math.round(fraction * 10_000) / 10_000, state: fraction >= 1 ? 'reached' : fraction >= WARN_AT ? 'warning' : 'ok',
        };
      }),
    };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Spend of the last days: total, by day, by provider, and jobs by status' })
  @ApiJson(200, spendMetricsSchema, 'the figures')
  @ApiProblems()
  async metrics(@CurrentPrincipal() p: Principal, @ZodQuery(spendMetricsQuerySchema) q: SpendMetricsQuery): Promise<SpendMetricsView> {
    const m = await this.spend.metrics(p.orgId, q.days);
    return {
      days: q.days, since: m.since.toISOString(), time_zone: m.timeZone, total_usd: dollarsFromMicros(m.totalMicros),
      by_day: m.byDay.map((d) => ({ day: d.day, cost_usd: dollarsFromMicros(d.costMicros), jobs: d.jobs })),
      by_provider: m.byProvider.map((d) => ({ provider: d.provider, cost_usd: dollarsFromMicros(d.costMicros), jobs: d.jobs })),
      jobs_by_status: m.jobsByStatus,
    };
  }
}

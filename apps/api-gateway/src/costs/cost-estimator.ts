import { Injectable } from '@nestjs/common';
import { costAtHourlyRate, dollarsFromMicros, estimateRun, MIN_HISTORY, trainingStepsOf, type Micros } from '@ct/job-domain';
import type { CostEstimateView } from '@ct/contracts';
import { JobRepository } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';

export interface Estimate {
  view: CostEstimateView;
  /** The expected cost, null without an estimate. */
  expectedMicros: Micros | null;
}

/**
 * Cost estimates before submission: the provider's price and default table for the profile (its plugin's
 * `costBasis`, no provider call), the organisation's own completed runs on that provider and profile, and
 * the pure estimate of libs/job-domain. The same answer goes on the job, so estimate and actual can be compared.
 */
@Injectable()
export class CostEstimator {
  constructor(private readonly registry: ProviderRegistry, private readonly jobs: JobRepository) {}

  async estimate(orgId: string, provider: string, input: { config: Record<string, unknown>; hardwareProfile: string | null }): Promise<Estimate> {
    const plugin = await this.registry.forOrg(orgId, provider);
    const basis = plugin.costBasis({ hardwareProfile: input.hardwareProfile });
    const steps = trainingStepsOf(input.config);
    const history = steps ? await this.jobs.runHistory(orgId, provider, basis.hardwareProfile) : [];
    const run = steps ? estimateRun(steps, history, basis.defaults) : null;
    const cost = (s: number) => costAtHourlyRate(s, basis.microsPerHour);
    const where = basis.hardwareProfile ? `${provider} (${basis.hardwareProfile})` : provider;
    const view: CostEstimateView = {
      provider,
      hardware_profile: basis.hardwareProfile,
      gpu_count: basis.gpuCount,
      steps,
      dollars_per_second: Number(basis.microsPerHour) / 3_600_000_000,
      dollars_per_hour: dollarsFromMicros(basis.microsPerHour),
      estimate: run
        ? {
            seconds: round(run.seconds), seconds_low: round(run.low), seconds_high: round(run.high),
            cost_usd: dollarsFromMicros(cost(run.seconds)), cost_usd_low: dollarsFromMicros(cost(run.low)), cost_usd_high: dollarsFromMicros(cost(run.high)),
            basis: run.basis, basis_detail: run.detail, seconds_per_step: run.secondsPerStep, startup_seconds: round(run.startupSeconds), samples: run.samples,
          }
        : null,
      reason: run
        ? null
        : !steps
          ? 'The config does not say how many steps it trains (`max_train_steps`), so no run time can be estimated.'
          : `No estimate: this organisation has ${history.length} completed runs on ${where} to learn from (${MIN_HISTORY} needed) and ${provider} has no default table for it.`,
      at: new Date().toISOString(),
    };
    return { view, expectedMicros: run ? cost(run.seconds) : null };
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

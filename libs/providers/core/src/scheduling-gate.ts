import type { JobForProvider } from './provider.plugin';

/**
 * The dispatcher asks the gate before handing a job to a provider. Today every job passes; priorities,
 * concurrency limits and budgets plug in here without reshaping the dispatch step: a gate that says
 * "wait" makes the dispatcher re-enqueue the step after `retryAfterMs`, and "reject" fails the job.
 */
export type GateDecision = { action: 'admit' } | { action: 'wait'; reason: string; retryAfterMs: number } | { action: 'reject'; reason: string };

export interface SchedulingGate {
  decide(job: JobForProvider): Promise<GateDecision>;
}

export class AdmitAllGate implements SchedulingGate {
  async decide(): Promise<GateDecision> {
    return { action: 'admit' };
  }
}

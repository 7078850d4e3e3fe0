import type { JobForProvider, PackageRef, ProviderCapabilities, ProviderJobStatus, ProviderPlugin, RunResult } from '@ct/providers-core';

/**
 * Self-hosted GPU workers (`worker`) and the orchestrator's own machine (`local`). Running a job means
 * making it claimable: once `queued`, a worker agent whose labels and GPU memory match claims it with
 * `FOR UPDATE SKIP LOCKED` (WorkerRepository.claim). Cancel is delivered in the worker's heartbeat answer.
 */
export class SelfHostedPlugin implements ProviderPlugin {
  readonly capabilities: ProviderCapabilities = { costTracking: false, liveLogs: true, webhooks: false, maxUploadBytes: null };

  constructor(readonly name: 'local' | 'worker') {}

  async validateCredentials() {
    return { ok: true, account: { kind: this.name === 'local' ? 'this machine' : 'self-hosted workers' } };
  }

  async listJobs(): Promise<ProviderJobStatus[]> {
    return [];
  }

  async runJob(job: JobForProvider, _pkg: PackageRef | null): Promise<RunResult> {
    const where = this.name === 'local' ? 'the local worker' : 'a matching worker';
    return { status: 'queued', externalId: null, reason: `waiting for ${where} to claim job ${job.id}` };
  }

  /** The heartbeat answer carries the cancel to the worker holding the lease. */
  async cancelJob(): Promise<void> {}

  async getJobStatus(): Promise<ProviderJobStatus | null> {
    return null;
  }

  async getJobLogs(): Promise<string[]> {
    return [];
  }
}

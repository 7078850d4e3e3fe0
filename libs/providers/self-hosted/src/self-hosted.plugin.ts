import { z } from 'zod';
import { LOCAL_LABEL } from '@ct/persistence';
import { defineProvider, type CostBasis, type HardwareOption, type JobForProvider, type PackageRef, type ProviderCapabilities, type ProviderDefinition, type ProviderJobStatus, type ProviderPlugin, type RunResult, type SubmissionInput, type SubmissionPlan } from '@ct/providers-core';


const capabilities = (dataLeaves: boolean): ProviderCapabilities => ({
  costTracking: false, liveLogs: true, webhooks: false, maxUploadBytes: null,
  uploadsPackage: false, workerClaimed: true, polled: false, dataLeavesInfrastructure: dataLeaves,
});

/**
 * Self-hosted GPU workers (`worker`) and the orchestrator's own machine (`local`). Running a job means
 * making it claimable: once `queued`, a worker agent whose labels and GPU memory match claims it with
 * `FOR UPDATE SKIP LOCKED` (WorkerRepository.claim). Cancel is delivered in the worker's heartbeat answer.
 */
export class SelfHostedPlugin implements ProviderPlugin {
  readonly capabilities: ProviderCapabilities;

  constructor(readonly name: 'local' | 'worker', dataLeavesInfrastructure = false) {
    this.capabilities = capabilities(dataLeavesInfrastructure);
  }

  async validateCredentials() {
    return { ok: true, account: { kind: this.name === 'local' ? 'this machine' : 'self-hosted workers' } };
  }

  async prepare(input: SubmissionInput): Promise<SubmissionPlan> {
    const labels = this.name === 'local' ? [...new Set([LOCAL_LABEL, ...input.requirements.labels])] : input.requirements.labels;
    return { hardwareProfile: input.hardwareProfile, requirements: { ...input.requirements, labels } };
  }

  hardware(): HardwareOption[] {
    return [];
  }

  /** The organisation's own GPUs cost nothing here, and their speed is unknown until jobs have run on them. */
  costBasis(input: { hardwareProfile: string | null }): CostBasis {
    return { hardwareProfile: input.hardwareProfile, gpuCount: null, microsPerHour: 0n, defaults: null };
  }

  async listJobs(): Promise<ProviderJobStatus[]> {
    return [];
  }

  async runJob(job: JobForProvider, _pkg: PackageRef | null): Promise<RunResult> {
    const where = this.name === 'local' ? 'the local worker' : 'a matching worker';
    return { status: 'queued', externalId: null, reason: `waiting for ${where} to claim job ${job.id}` };
  }

  /** Nothing to call: the heartbeat answer carries the cancel to the worker holding the lease. */
  async cancelJob(): Promise<void> {
    return undefined;
  }

  async getJobStatus(): Promise<ProviderJobStatus | null> {
    return null;
  }

  async getJobLogs(): Promise<string[]> {
    return [];
  }
}

/** The orchestrator's own machine (the embedded worker agent). */
export const localProvider: ProviderDefinition = {
  name: 'local',
  label: 'This machine',
  capabilities: capabilities(false),
  settingsSchema: z.object({}).strict(),
  create: () => new SelfHostedPlugin('local'),
};

const workerSettings = z
  .object({
    data_leaves_infrastructure: z.boolean().default(false).describe('the workers are machines outside your own infrastructure (rented GPUs): consent applies'),
  })
  .strict();

/** The organisation's own GPU workers, wherever they run. */
export const workerProvider = defineProvider<z.infer<typeof workerSettings>, unknown>({
  name: 'worker',
  label: 'Self-hosted workers',
  capabilities: capabilities(false),
  settingsSchema: workerSettings,
  create: (ctx) => new SelfHostedPlugin('worker', ctx.settings.data_leaves_infrastructure),
});

import { Inject } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import { JobTracker } from '@ct/persistence';
import { QueueProcessor, StepProcessor } from '@ct/queue';
import { LOGGER } from '@ct/service';
import { PackageJobUseCase } from './package-job.use-case';

export const PACKAGER_CONCURRENCY = Symbol('PACKAGER_CONCURRENCY');

@QueueProcessor('package')
export class PackageProcessor extends StepProcessor<'package'> {
  constructor(private readonly useCase: PackageJobUseCase, private readonly tracker: JobTracker, @Inject(LOGGER) logger: Logger, @Inject(PACKAGER_CONCURRENCY) concurrency: number) {
    super('package', logger, concurrency);
  }

  protected handle(payload: QueuePayload<'package'>, job: Job): Promise<void> {
    return this.useCase.execute(payload, job.id ?? 'package');
  }

  protected override async onFinalFailure({ jobId, orgId }: QueuePayload<'package'>, err: Error): Promise<void> {
    await this.tracker.transition({ orgId, jobId, to: 'failed', from: ['pending', 'packaging'], reason: `packaging failed: ${err.message}`, patch: { error: err.message } });
  }
}

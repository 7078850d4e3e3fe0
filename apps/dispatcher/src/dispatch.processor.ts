import { Inject } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import { JobTracker } from '@ct/persistence';
import { QueueProcessor, StepProcessor } from '@ct/queue';
import { LOGGER } from '@ct/service';
import { DispatchJobUseCase } from './dispatch-job.use-case';

export const DISPATCHER_CONCURRENCY = Symbol('DISPATCHER_CONCURRENCY');

@QueueProcessor('dispatch')
export class DispatchProcessor extends StepProcessor<'dispatch'> {
  constructor(private readonly useCase: DispatchJobUseCase, private readonly tracker: JobTracker, @Inject(LOGGER) logger: Logger, @Inject(DISPATCHER_CONCURRENCY) concurrency: number) {
    super('dispatch', logger, concurrency);
  }

  protected handle(payload: QueuePayload<'dispatch'>, job: Job): Promise<void> {
    return this.useCase.execute(payload, job.id ?? 'dispatch');
  }

  protected override async onFinalFailure({ jobId, orgId }: QueuePayload<'dispatch'>, err: Error): Promise<void> {
    await this.tracker.transition({ orgId, jobId, to: 'failed', from: ['packaging', 'uploading'], reason: `dispatch failed: ${err.message}`, patch: { error: err.message } });
  }
}

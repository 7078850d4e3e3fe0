import { Inject } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { MaintenanceTask, QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import { QueueProcessor, StepProcessor } from '@ct/queue';
import { LOGGER } from '@ct/service';
import { FinalizeJobUseCase } from './finalize-job.use-case';
import { MaintenanceTasks } from './maintenance-tasks.service';
import { ProviderPolling } from './provider-polling.use-case';
import { PurgeJobUseCase } from './purge-job.use-case';

@QueueProcessor('finalize')
export class FinalizeProcessor extends StepProcessor<'finalize'> {
  constructor(private readonly useCase: FinalizeJobUseCase, @Inject(LOGGER) logger: Logger) {
    super('finalize', logger, 4);
  }

  protected handle(payload: QueuePayload<'finalize'>): Promise<void> {
    return this.useCase.execute(payload);
  }
}

@QueueProcessor('poll')
export class PollProcessor extends StepProcessor<'poll'> {
  constructor(private readonly polling: ProviderPolling, @Inject(LOGGER) logger: Logger) {
    super('poll', logger, 16);
  }

  protected handle(payload: QueuePayload<'poll'>): Promise<void> {
    return this.polling.poll(payload);
  }
}

/** The deployment's periodic work; the job name is the task (see MaintenanceTasks). */
@QueueProcessor('maintenance')
export class MaintenanceProcessor extends StepProcessor<'maintenance'> {
  constructor(private readonly tasks: MaintenanceTasks, @Inject(LOGGER) logger: Logger) {
    super('maintenance', logger, 2);
  }

  protected handle(_payload: QueuePayload<'maintenance'>, job: Job): Promise<void> {
    return this.tasks.run(job.name as MaintenanceTask);
  }
}

@QueueProcessor('purge')
export class PurgeProcessor extends StepProcessor<'purge'> {
  constructor(private readonly useCase: PurgeJobUseCase, @Inject(LOGGER) logger: Logger) {
    super('purge', logger, 2);
  }

  protected handle(payload: QueuePayload<'purge'>): Promise<void> {
    return this.useCase.execute(payload);
  }
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { MaintenanceTask } from '@ct/contracts';
import type { Redis } from 'ioredis';
import { QueueProducer } from './queue-producer';
import { PRODUCER_REDIS } from './queue.tokens';

export const MAINTENANCE_SCHEDULE = Symbol('MAINTENANCE_SCHEDULE');
export type MaintenanceSchedule = Readonly<Partial<Record<MaintenanceTask, number>>>;

/**
 * Registers each maintenance task as a BullMQ job scheduler on the `maintenance` queue: whatever the number
 * of replicas, each interval produces one item, which one replica runs. Every replica upserts the same
 * schedulers at boot (idempotent), so a changed interval takes effect with the next deployment.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap {
  constructor(private readonly producer: QueueProducer, @Inject(MAINTENANCE_SCHEDULE) private readonly schedule: MaintenanceSchedule) {}

  async onApplicationBootstrap(): Promise<void> {
    const queue = this.producer.queue('maintenance');
    for (const [task, every] of Object.entries(this.schedule)) {
      await queue.upsertJobScheduler(task, { every }, { name: task, data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 1 } });
    }
  }
}

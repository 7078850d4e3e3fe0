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
 * schedulers (idempotent) at boot, on every reconnection to Redis and every minute: a Redis that lost its
 * data (restarted without persistence) gets them back at once, and with them the reconciler that re-drives
 * whatever else it lost.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceScheduler.name);
  private timer: NodeJS.Timeout | null = null;
  private readonly onReady = () => void this.upsert().catch(() => undefined);

  constructor(
    private readonly producer: QueueProducer,
    @Inject(MAINTENANCE_SCHEDULE) private readonly schedule: MaintenanceSchedule,
    @Inject(PRODUCER_REDIS) private readonly redis: Redis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.upsert().catch((err: Error) => this.logger.warn(`maintenance schedulers not registered yet: ${err.message}`));
    this.redis.on('ready', this.onReady);
    this.timer = setInterval(this.onReady, 60_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.redis.off('ready', this.onReady);
  }

  private async upsert(): Promise<void> {
    const queue = this.producer.queue('maintenance');
    for (const [task, every] of Object.entries(this.schedule)) {
      await queue.upsertJobScheduler(task, { every }, { name: task, data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 1 } });
    }
  }
}

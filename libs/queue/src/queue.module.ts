import { BullModule } from '@nestjs/bullmq';
import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { QUEUE_CONSUMERS, type QueueName } from '@ct/contracts';
import { registerQueueDepth } from './queue-metrics';
import { DiscoveryModule } from '@nestjs/core';
import type { Redis } from 'ioredis';
import { createRedis, redisOptionsFromUrl } from './connection';
import { EventBus } from './event-bus';
import { OutboxWake } from './outbox-wake';
import { QUEUE_SERVICE, QueueHandlersCheck } from './queue-handlers.check';
import { DEFAULT_JOB_OPTIONS, QueueProducer } from './queue-producer';
import { PRODUCER_REDIS, QUEUE_CONFIG, type QueueConfig } from './queue.tokens';

@Injectable()
class QueueConnections implements OnApplicationShutdown, OnModuleInit {
  constructor(private readonly producer: QueueProducer, @Inject(PRODUCER_REDIS) private readonly redis: Redis, @Inject(QUEUE_SERVICE) private readonly service: string) {}

  /** `ct_queue_depth` for the queues this service consumes. */
  onModuleInit(): void {
    const owned = (Object.entries(QUEUE_CONSUMERS) as Array<[QueueName, string]>).filter(([, s]) => s === this.service).map(([q]) => q);
    if (owned.length) registerQueueDepth(this.producer, owned);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.close();
    this.redis.disconnect();
  }
}

/**
 * BullMQ for a service: workers for its `@QueueProcessor` classes (shared connection settings and the
 * deployment's prefix), the producer, the event bus (and on it the outbox relays' wake-up), and the boot check that each of the service's queues
 * has exactly one handler.
 */
@Global()
@Module({})
export class QueueModule {
  static forRoot(config: QueueConfig & { service: string }): DynamicModule {
    const { service, ...queue } = config;
    const owned = (Object.entries(QUEUE_CONSUMERS) as Array<[QueueName, string]>).filter(([, s]) => s === service).map(([q]) => q);
    return {
      module: QueueModule,
      imports: [
        DiscoveryModule,
        BullModule.forRoot({
          connection: { ...redisOptionsFromUrl(queue.redisUrl), maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(100 * 2 ** n, 2_000) },
          prefix: queue.prefix,
          defaultJobOptions: DEFAULT_JOB_OPTIONS,
        }),
        // Registering the consumed queues is what makes @nestjs/bullmq start workers for their processors.
        ...(owned.length ? [BullModule.registerQueue(...owned.map((name) => ({ name })))] : []),
      ],
      providers: [
        { provide: QUEUE_CONFIG, useValue: queue },
        { provide: QUEUE_SERVICE, useValue: service },
        { provide: PRODUCER_REDIS, useFactory: () => createRedis(queue.redisUrl, 'producer') },
        { provide: QueueProducer, useFactory: (r: Redis) => new QueueProducer(r, queue.prefix), inject: [PRODUCER_REDIS] },
        EventBus,
        OutboxWake,
        QueueHandlersCheck,
        QueueConnections,
      ],
      exports: [QUEUE_CONFIG, PRODUCER_REDIS, QueueProducer, EventBus],
    };
  }
}

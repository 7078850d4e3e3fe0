import { Module, type DynamicModule } from '@nestjs/common';
import { storageMasterKey, type PollerEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { PrismaClient } from '@ct/persistence';
import { createProviderRegistry } from '@ct/providers-catalog';
import { ProviderRegistry } from '@ct/providers-core';
import { MAINTENANCE_SCHEDULE, MaintenanceScheduler, QueueModule, QueueProducer } from '@ct/queue';
import { DatabaseModule, POSTGRES_AND_REDIS, LOGGER, Metrics, providerCallMetrics, ServiceModule, STORAGE_DRIVER, StorageDriverModule } from '@ct/service';
import type { StorageDriver } from '@ct/storage';
import { FinalizeJobUseCase } from './finalize-job.use-case';
import { MaintenanceTasks, POLLER_ENV } from './maintenance-tasks.service';
import { OUTBOX_POLL_MS, OutboxRelayService } from './outbox-relay.service';
import { FinalizeProcessor, MaintenanceProcessor, PollProcessor, PurgeProcessor } from './processors';
import { ProviderPolling } from './provider-polling.use-case';
import { PurgeJobUseCase } from './purge-job.use-case';
import { JobsByStatusMetric } from './jobs-metric';

/**
 * The poller: polling of provider-run jobs, finalize and purge, the outbox relay, and the deployment's
 * maintenance (one run per interval).
 */
@Module({})
export class PollerModule {
  static forRoot(env: PollerEnv): DynamicModule {
    return {
      module: PollerModule,
      imports: [
        ServiceModule.forRoot({
          service: 'poller', logLevel: env.LOG_LEVEL, metricsToken: env.METRICS_TOKEN,
          readiness: POSTGRES_AND_REDIS,
        }),
        DatabaseModule.forRoot(env.DATABASE_URL),
        StorageDriverModule.forRoot(env),
        QueueModule.forRoot({ service: 'poller', redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX }),
      ],
      providers: [
        { provide: POLLER_ENV, useValue: env },
        { provide: OUTBOX_POLL_MS, useValue: env.OUTBOX_POLL_MS },
        { provide: MAINTENANCE_SCHEDULE, useValue: MaintenanceTasks.schedule(env) },
        {
          provide: ProviderRegistry,
          inject: [PrismaClient, LOGGER, Metrics],
          useFactory: (prisma: PrismaClient, logger: Logger, metrics: Metrics) =>
            createProviderRegistry({ prisma, masterKey: storageMasterKey(env), publicUrl: env.PUBLIC_URL, logger, onCall: providerCallMetrics(metrics) }),
        },
        {
          provide: ProviderPolling,
          inject: [PrismaClient, ProviderRegistry, QueueProducer, LOGGER],
          useFactory: (prisma: PrismaClient, registry: ProviderRegistry, producer: QueueProducer, logger: Logger) => new ProviderPolling(prisma, registry, producer, logger),
        },
        {
          provide: FinalizeJobUseCase,
          inject: [PrismaClient, ProviderRegistry, LOGGER],
          useFactory: (prisma: PrismaClient, registry: ProviderRegistry, logger: Logger) => new FinalizeJobUseCase(prisma, registry, logger),
        },
        {
          provide: PurgeJobUseCase,
          inject: [PrismaClient, STORAGE_DRIVER, LOGGER],
          useFactory: (prisma: PrismaClient, driver: StorageDriver, logger: Logger) => new PurgeJobUseCase(prisma, driver, logger),
        },
        MaintenanceTasks,
        MaintenanceScheduler,
        OutboxRelayService,
        JobsByStatusMetric,
        FinalizeProcessor,
        PollProcessor,
        PurgeProcessor,
        MaintenanceProcessor,
      ],
    };
  }
}

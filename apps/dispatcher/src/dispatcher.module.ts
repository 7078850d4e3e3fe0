import { Module, type DynamicModule } from '@nestjs/common';
import { storageMasterKey, type DispatcherEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { PrismaClient, SchedulingRepository } from '@ct/persistence';
import { createProviderRegistry } from '@ct/providers-catalog';
import { ProviderRegistry } from '@ct/providers-core';
import { QueueModule } from '@ct/queue';
import { DatabaseModule, POSTGRES_AND_REDIS, LOGGER, Metrics, providerCallMetrics, ServiceModule, STORAGE_DRIVER, StorageDriverModule } from '@ct/service';
import type { StorageDriver } from '@ct/storage';
import { DispatchJobUseCase } from './dispatch-job.use-case';
import { DISPATCHER_CONCURRENCY, DispatchProcessor } from './dispatch.processor';

/** The dispatcher: consumes `dispatch` (scheduling gate, provider limits, the provider plugin's runJob). */
@Module({})
export class DispatcherModule {
  static forRoot(env: DispatcherEnv): DynamicModule {
    return {
      module: DispatcherModule,
      imports: [
        ServiceModule.forRoot({
          service: 'dispatcher', logLevel: env.LOG_LEVEL, metricsToken: env.METRICS_TOKEN,
          readiness: POSTGRES_AND_REDIS,
        }),
        DatabaseModule.forRoot(env.DATABASE_URL),
        StorageDriverModule.forRoot(env),
        QueueModule.forRoot({ service: 'dispatcher', redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX }),
      ],
      providers: [
        {
          provide: ProviderRegistry,
          inject: [PrismaClient, LOGGER, Metrics, STORAGE_DRIVER],
          useFactory: (prisma: PrismaClient, logger: Logger, metrics: Metrics, driver: StorageDriver) =>
            createProviderRegistry({
              prisma, masterKey: storageMasterKey(env), publicUrl: env.PUBLIC_URL, logger, onCall: providerCallMetrics(metrics),
              openPackage: async (ref) => (await driver.getObject(ref.bucket, ref.key)).body,
            }),
        },
        {
          provide: DispatchJobUseCase,
          inject: [PrismaClient, ProviderRegistry, LOGGER],
          useFactory: (prisma: PrismaClient, registry: ProviderRegistry, logger: Logger) => new DispatchJobUseCase(prisma, registry, logger, new SchedulingRepository(prisma, env.PROVIDER_CONCURRENCY)),
        },
        { provide: DISPATCHER_CONCURRENCY, useValue: env.DISPATCHER_CONCURRENCY },
        DispatchProcessor,
      ],
    };
  }
}

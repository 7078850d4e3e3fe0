import { Module, type DynamicModule } from '@nestjs/common';
import { storageMasterKey, type PackagerEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { OrgRepository, PrismaClient } from '@ct/persistence';
import { createProviderRegistry } from '@ct/providers-catalog';
import { ProviderRegistry } from '@ct/providers-core';
import { QueueModule } from '@ct/queue';
import { DatabaseModule, DatasetRoots, POSTGRES_AND_REDIS, LOGGER, Metrics, ServiceModule, STORAGE_DRIVER, StorageDriverModule } from '@ct/service';
import type { StorageDriver } from '@ct/storage';
import { PackageJobUseCase } from './package-job.use-case';
import { PackageProcessor, PACKAGER_CONCURRENCY } from './package.processor';

/** The packager: consumes `package` (scan, consent, zip into storage, rewrite the dataloader, hand over to `dispatch`). */
@Module({})
export class PackagerModule {
  static forRoot(env: PackagerEnv): DynamicModule {
    return {
      module: PackagerModule,
      imports: [
        ServiceModule.forRoot({
          service: 'packager', logLevel: env.LOG_LEVEL, metricsToken: env.METRICS_TOKEN,
          readiness: POSTGRES_AND_REDIS,
        }),
        DatabaseModule.forRoot(env.DATABASE_URL),
        StorageDriverModule.forRoot(env),
        QueueModule.forRoot({ service: 'packager', redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX }),
      ],
      providers: [
        { provide: PACKAGER_CONCURRENCY, useValue: env.PACKAGER_CONCURRENCY },
        // Asked only what a provider's plugin says of itself for an organisation (whether its data leaves the infrastructure).
        { provide: ProviderRegistry, inject: [PrismaClient, LOGGER], useFactory: (prisma: PrismaClient, logger: Logger) => createProviderRegistry({ prisma, masterKey: storageMasterKey(env), logger }) },
        {
          provide: PackageJobUseCase,
          inject: [PrismaClient, OrgRepository, STORAGE_DRIVER, LOGGER, Metrics, ProviderRegistry],
          useFactory: (prisma: PrismaClient, orgs: OrgRepository, driver: StorageDriver, logger: Logger, metrics: Metrics, registry: ProviderRegistry) => {
            const packaged = metrics.counter({ name: 'ct_packaged_bytes_total', help: 'Bytes of dataset files packaged, and of the archives written', labelNames: ['kind'] });
            const roots = new DatasetRoots(env, orgs);
            return new PackageJobUseCase(prisma, driver, (orgId) => roots.of(orgId), registry, logger, (bytes, archive) => {
              packaged.inc({ kind: 'files' }, bytes);
              packaged.inc({ kind: 'archive' }, archive);
            });
          },
        },
        PackageProcessor,
      ],
    };
  }
}

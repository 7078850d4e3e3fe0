import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { storageMasterKey, type GatewayEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { OrgRepository, PrismaClient, ProviderSettingsRepository, SchedulingRepository, SecretBox, WebhookDeliveryRepository } from '@ct/persistence';
import { createProviderRegistry } from '@ct/providers-catalog';
import { ProviderRegistry } from '@ct/providers-core';
import { QueueModule } from '@ct/queue';
import { DatabaseModule, DatasetRoots, POSTGRES_AND_REDIS, LOGGER, Metrics, providerCallMetrics, ServiceModule } from '@ct/service';
import { AuthGuard } from './common/auth';
import { ProblemFilter } from './common/problem.filter';
import { Shutdown } from './common/shutdown';
import { ConsentController } from './consent/consent.controller';
import { ConsentService } from './consent/consent.service';
import { CostEstimator } from './costs/cost-estimator';
import { CostsController } from './costs/costs.controller';
import { SchedulingController } from './scheduling/scheduling.controller';
import { EventsController } from './events/events.controller';
import { JobEventsHub } from './events/job-events.hub';
import { GATEWAY_ENV } from './infra.tokens';
import { JobsController } from './jobs/jobs.controller';
import { JobsService } from './jobs/jobs.service';
import { WaitingReasons } from './jobs/waiting-reasons';
import { ProvidersController } from './providers/providers.controller';
import { WebhooksController } from './providers/webhooks.controller';
import { S3CredentialsController } from './storage-proxy/s3-credentials.controller';
import { WorkerProtocolController } from './workers/worker-protocol.controller';
import { WorkersAdminController } from './workers/workers-admin.controller';

/** The gateway: REST API, auth and tenancy, SSE, webhooks in, the worker protocol, the S3 proxy. */
@Module({})
export class AppModule {
  static forRoot(env: GatewayEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceModule.forRoot({
          service: 'api-gateway', logLevel: env.LOG_LEVEL, metricsToken: env.METRICS_TOKEN,
          readiness: POSTGRES_AND_REDIS,
        }),
        DatabaseModule.forRoot(env.DATABASE_URL),
        QueueModule.forRoot({ service: 'api-gateway', redisUrl: env.REDIS_URL, prefix: env.QUEUE_PREFIX }),
      ],
      controllers: [JobsController, EventsController, WorkersAdminController, WorkerProtocolController, S3CredentialsController, ProvidersController, WebhooksController, ConsentController, CostsController, SchedulingController],
      providers: [
        { provide: GATEWAY_ENV, useValue: env },
        {
          provide: ProviderRegistry,
          inject: [PrismaClient, LOGGER, Metrics],
          useFactory: (prisma: PrismaClient, logger: Logger, metrics: Metrics) =>
            createProviderRegistry({ prisma, masterKey: storageMasterKey(env), publicUrl: env.PUBLIC_URL, logger, onCall: providerCallMetrics(metrics) }),
        },
        { provide: ProviderSettingsRepository, inject: [PrismaClient], useFactory: (prisma: PrismaClient) => new ProviderSettingsRepository(prisma, new SecretBox(storageMasterKey(env))) },
        { provide: WebhookDeliveryRepository, inject: [PrismaClient], useFactory: (prisma: PrismaClient) => new WebhookDeliveryRepository(prisma) },
        JobEventsHub,
        JobsService,
        ConsentService,
        { provide: SchedulingRepository, inject: [PrismaClient], useFactory: (prisma: PrismaClient) => new SchedulingRepository(prisma, env.PROVIDER_CONCURRENCY) },
        CostEstimator,
        { provide: DatasetRoots, inject: [OrgRepository], useFactory: (orgs: OrgRepository) => new DatasetRoots(env, orgs) },
        WaitingReasons,
        Shutdown,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}

import { Global, Module, type DynamicModule, type FactoryProvider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { createLogger, loggerOptions } from '@ct/logging';
import { PrismaClient } from '@ct/persistence';
import { PRODUCER_REDIS, type Redis } from '@ct/queue';
import { HealthController } from './health.controller';
import { Metrics } from './metrics';
import { METRICS_TOKEN, MetricsController } from './metrics.controller';
import { LOGGER, READINESS, SERVICE_NAME, type ReadinessChecks } from './service.tokens';

export interface ServiceModuleOptions {
  service: string;
  logLevel: string;
  /** The named checks of `/health/ready`, built from other (global) modules' providers. */
  readiness: Omit<FactoryProvider<ReadinessChecks>, 'provide'>;
  metricsToken?: string | undefined;
}

/**
 * What every service is made of besides its own work: structured logs (nestjs-pino, one short line per
 * request, no headers), `/health` and `/health/ready` (@nestjs/terminus), `/metrics` (prom-client).
 */
@Global()
@Module({})
export class ServiceModule {
  static forRoot(opts: ServiceModuleOptions): DynamicModule {
    return {
      module: ServiceModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            ...loggerOptions(opts.service, opts.logLevel),
            autoLogging: { ignore: (req: { url?: string }) => /^\/(health|metrics)(\/|$|\?)/.test(req.url ?? '') },
            // Headers carry credentials and bodies carry user data: neither is logged.
            serializers: {
              req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
          },
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_NAME, useValue: opts.service },
        { provide: READINESS, ...opts.readiness },
        { provide: METRICS_TOKEN, useValue: opts.metricsToken ?? '' },
        { provide: LOGGER, useValue: createLogger(opts.service, opts.logLevel) },
        Metrics,
      ],
      exports: [SERVICE_NAME, LOGGER, Metrics],
    };
  }
}

/** `/health/ready` of a service on Postgres and Redis (every queue service, and the gateway). */
export const POSTGRES_AND_REDIS: ServiceModuleOptions['readiness'] = {
  inject: [PrismaClient, PRODUCER_REDIS],
  useFactory: (prisma: PrismaClient, redis: Redis) => ({ postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() }),
};

import { Module, type DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { storageMasterKey, type StorageEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { ArtifactRepository, PrismaClient } from '@ct/persistence';
import { DatabaseModule, LOGGER, Metrics, ServiceModule, STORAGE_DRIVER, StorageDriverModule } from '@ct/service';
import { createS3Handler, type S3RequestHandler, type StorageDriver } from '@ct/storage';
import { credentialResolver, unavailableAsS3 } from './credential-resolver';

export const S3_HANDLER = Symbol('S3_HANDLER');
/** Routes the service itself answers; everything else is the S3 endpoint (mounted at its path and at the root). */
const OWN_ROUTES = /^\/(health|metrics)(\/|\?|$)/;

@Module({})
export class StorageModule {
  static forRoot(env: StorageEnv): DynamicModule {
    return {
      module: StorageModule,
      imports: [
        ServiceModule.forRoot({
          service: 'storage', logLevel: env.LOG_LEVEL, metricsToken: env.METRICS_TOKEN,
          readiness: { inject: [PrismaClient, STORAGE_DRIVER], useFactory: (prisma: PrismaClient, driver: StorageDriver) => ({ postgres: () => prisma.$queryRaw`SELECT 1`, storage: () => driver.listBuckets() }) },
        }),
        DatabaseModule.forRoot(env.DATABASE_URL),
        StorageDriverModule.forRoot(env),
      ],
      providers: [
        {
          provide: S3_HANDLER,
          inject: [PrismaClient, STORAGE_DRIVER, LOGGER, Metrics],
          useFactory: (prisma: PrismaClient, driver: StorageDriver, logger: Logger, metrics: Metrics) => s3Handler(env, prisma, driver, logger, metrics),
        },
      ],
      exports: [S3_HANDLER],
    };
  }
}

function s3Handler(env: StorageEnv, prisma: PrismaClient, driver: StorageDriver, logger: Logger, metrics: Metrics): S3RequestHandler {
  const artifacts = new ArtifactRepository(prisma);
  const stored = metrics.counter({ name: 'ct_storage_bytes_stored_total', help: 'Bytes of objects stored through the S3 endpoint, by bucket', labelNames: ['bucket'] });
  return createS3Handler({
    driver,
    // The gateway forwards /api/cloud/storage; the root serves clients that take no path (the MinIO client).
    prefix: ['/api/cloud/storage', '/'],
    region: env.S3_REGION,
    maxObjectBytes: env.MAX_OBJECT_BYTES,
    logger,
    resolveCredential: credentialResolver(prisma, storageMasterKey(env)),
    onObjectWritten: unavailableAsS3(async (o) => {
      await artifacts.recordArtifact({ orgId: o.principal.orgId, jobId: o.principal.jobId ?? null, bucket: o.bucket, key: o.key, size: o.size, etag: o.etag, sha256: o.sha256 });
      stored.inc({ bucket: o.bucket }, o.size);
      logger.info({ jobId: o.principal.jobId, bucket: o.bucket, key: o.key, size: o.size }, 'object stored');
    }),
    onObjectDeleted: unavailableAsS3((o) => artifacts.removeArtifact(o.bucket, o.key)),
  });
}

/** Mounts the S3 endpoint before Nest's router: every path but the service's own health and metrics. */
export function mountS3Endpoint(app: NestExpressApplication): void {
  const handler = app.get<S3RequestHandler>(S3_HANDLER);
  app.use((req: { url?: string }, res: unknown, next: () => void) => {
    if (OWN_ROUTES.test(req.url ?? '/')) return next();
    void handler(req as never, res as never);
  });
}

import { loadEnvOrExit, storageEnv, storageMasterKey } from '@ct/config';
import { createLogger } from '@ct/logging';
import { ArtifactRepository, createPrismaClient } from '@ct/persistence';
import { readiness, runService, startHttp } from '@ct/queue';
import { createS3Handler, createStorageDriver, MultipartUploads, storageConfigFromEnv } from '@ct/storage';
import { credentialResolver } from './credential-resolver';

/** The S3-compatible endpoint (/api/cloud/storage/...) over the filesystem or MinIO, with the artifact index. */
const env = loadEnvOrExit('storage', storageEnv);
const logger = createLogger('storage', env.LOG_LEVEL);

runService('storage', logger, async () => {
  const prisma = createPrismaClient(env.DATABASE_URL);
  const artifacts = new ArtifactRepository(prisma);
  const driver = await createStorageDriver(storageConfigFromEnv(env));
  const handler = createS3Handler({
    driver,
    // The gateway forwards /api/cloud/storage; the root serves clients that take no path (the MinIO client).
    prefix: ['/api/cloud/storage', '/'],
    region: env.S3_REGION,
    maxObjectBytes: env.MAX_OBJECT_BYTES,
    logger,
    resolveCredential: credentialResolver(prisma, storageMasterKey(env)),
    onObjectWritten: async (o) => {
      await artifacts.recordArtifact({ orgId: o.principal.orgId, jobId: o.principal.jobId ?? null, bucket: o.bucket, key: o.key, size: o.size, etag: o.etag, sha256: o.sha256 });
      logger.info({ jobId: o.principal.jobId, bucket: o.bucket, key: o.key, size: o.size }, 'object stored');
    },
    onObjectDeleted: (o) => artifacts.removeArtifact(o.bucket, o.key),
  });
  const server = await startHttp(
    {
      service: 'storage', port: env.STORAGE_PORT, host: env.STORAGE_HOST, logger,
      ready: readiness({ postgres: () => prisma.$queryRaw`SELECT 1`, storage: () => driver.listBuckets() }),
    },
    (req, res) => void handler(req, res),
  );
  // Multipart uploads never completed nor aborted are removed after a week, like an S3 lifecycle rule would.
  const multipart = new MultipartUploads(driver);
  const prune = () =>
    multipart
      .pruneStale(7 * 24 * 3600_000)
      .then((n) => n && logger.info({ removed: n }, 'abandoned multipart uploads removed'))
      .catch((err: Error) => logger.warn({ err: err.message }, 'pruning multipart uploads failed'));
  const pruneTimer = setInterval(() => void prune(), 3600_000);
  pruneTimer.unref();
  return async () => {
    clearInterval(pruneTimer);
    await new Promise((r) => server.close(r));
    await prisma.$disconnect();
  };
});

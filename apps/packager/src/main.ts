import { loadEnvOrExit, packagerEnv } from '@ct/config';
import { createLogger } from '@ct/logging';
import { createPrismaClient, JobTracker } from '@ct/persistence';
import { createRedis, readiness, runService, startHttp, startProcessor } from '@ct/queue';
import { createStorageDriver, storageConfigFromEnv } from '@ct/storage';
import { PackageJobUseCase } from './package-job.use-case';

const env = loadEnvOrExit('packager', packagerEnv);
const logger = createLogger('packager', env.LOG_LEVEL);

runService('packager', logger, async () => {
  const prisma = createPrismaClient(env.DATABASE_URL);
  const redis = createRedis(env.REDIS_URL, 'worker');
  const driver = await createStorageDriver(storageConfigFromEnv(env));
  const useCase = new PackageJobUseCase(prisma, driver, env.DATASET_ROOTS, logger);
  const tracker = new JobTracker(prisma);
  const worker = startProcessor('package', (payload) => useCase.execute(payload), {
    connection: redis,
    prefix: env.QUEUE_PREFIX,
    concurrency: env.PACKAGER_CONCURRENCY,
    logger,
    onFinalFailure: async (p, err) => {
      const { jobId, orgId } = p as { jobId: string; orgId: string };
      await tracker.transition({ orgId, jobId, to: 'failed', from: ['pending', 'packaging'], reason: `packaging failed: ${err.message}`, patch: { error: err.message } });
    },
  });
  const server = await startHttp({
    service: 'packager', port: env.PACKAGER_PORT, host: env.HEALTH_HOST, logger,
    ready: readiness({ postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() }),
  });
  return async () => {
    await worker.close();
    server.close();
    redis.disconnect();
    await prisma.$disconnect();
  };
});

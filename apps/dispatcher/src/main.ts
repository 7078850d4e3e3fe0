import { DelayedError } from 'bullmq';
import { dispatcherEnv, loadEnvOrExit, storageMasterKey } from '@ct/config';
import { createLogger } from '@ct/logging';
import { createPrismaClient, JobTracker, ProviderSettingsRepository, SecretBox } from '@ct/persistence';
import { AdmitAllGate, ProviderError, ProviderRegistry, type ProviderResolver } from '@ct/providers-core';
import { ReplicatePlugins } from '@ct/providers-replicate';
import { SelfHostedPlugin } from '@ct/providers-self-hosted';
import { createRedis, readiness, runService, startHttp, startProcessor } from '@ct/queue';
import { createStorageDriver, storageConfigFromEnv } from '@ct/storage';
import { DispatchJobUseCase, NotYetError } from './dispatch-job.use-case';

const env = loadEnvOrExit('dispatcher', dispatcherEnv);
const logger = createLogger('dispatcher', env.LOG_LEVEL);
/** How many times a rate-limited or unavailable provider re-delays a dispatch before it counts as a failure. */
const MAX_PROVIDER_DELAYS = 30;

runService('dispatcher', logger, async () => {
  const prisma = createPrismaClient(env.DATABASE_URL);
  const redis = createRedis(env.REDIS_URL, 'worker');
  const tracker = new JobTracker(prisma);
  const driver = await createStorageDriver(storageConfigFromEnv(env));
  const settings = new ProviderSettingsRepository(prisma, new SecretBox(storageMasterKey(env)));
  /** Adding a provider: one plugin in libs/providers and one line here. */
  const registry = new ProviderRegistry([new SelfHostedPlugin('local'), new SelfHostedPlugin('worker')]);
  const replicate = new ReplicatePlugins({ env, prisma, settings, logger, openPackage: async (ref) => (await driver.getObject(ref.bucket, ref.key)).body });
  const providers: ProviderResolver = {
    resolve: async (name, orgId) => (name === 'replicate' ? (await replicate.forOrg(orgId)).plugin : registry.get(name)),
  };
  const useCase = new DispatchJobUseCase(prisma, providers, new AdmitAllGate(), logger);
  const worker = startProcessor(
    'dispatch',
    async (payload, job) => {
      try {
        await useCase.execute(payload);
      } catch (err) {
        const delayed = job.data.delays ?? 0;
        const wait = err instanceof NotYetError ? err.retryAfterMs : err instanceof ProviderError && err.retryable && delayed < MAX_PROVIDER_DELAYS ? Math.min(err.retryAfterMs ?? 2_000 * 2 ** Math.min(delayed, 4), 60_000) : null;
        if (wait === null) throw err;
        logger.warn({ jobId: payload.jobId, waitMs: wait, reason: (err as Error).message }, 'dispatch delayed');
        await job.updateData({ ...job.data, delays: delayed + 1 });
        await job.moveToDelayed(Date.now() + wait, job.token);
        throw new DelayedError();
      }
    },
    {
      connection: redis, concurrency: env.DISPATCHER_CONCURRENCY, logger, prefix: env.QUEUE_PREFIX,
      onFinalFailure: async (p, err) => {
        const { jobId, orgId } = p as { jobId: string; orgId: string };
        await tracker.transition({ orgId, jobId, to: 'failed', from: ['packaging', 'uploading'], reason: `dispatch failed: ${err.message}`, patch: { error: err.message } });
      },
    },
  );
  const server = await startHttp({
    service: 'dispatcher', port: env.DISPATCHER_PORT, host: env.HEALTH_HOST, logger,
    ready: readiness({ postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() }),
  });
  return async () => {
    await worker.close();
    server.close();
    redis.disconnect();
    await prisma.$disconnect();
  };
});

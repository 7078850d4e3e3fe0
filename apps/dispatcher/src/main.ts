import { DelayedError } from 'bullmq';
import { dispatcherEnv, loadEnvOrExit } from '@ct/config';
import { createLogger } from '@ct/logging';
import { createPrismaClient, JobTracker } from '@ct/persistence';
import { AdmitAllGate, ProviderRegistry } from '@ct/providers-core';
import { SelfHostedPlugin } from '@ct/providers-self-hosted';
import { createRedis, probe, runService, startHttp, startProcessor } from '@ct/queue';
import { DispatchJobUseCase, NotYetError } from './dispatch-job.use-case';

const env = loadEnvOrExit('dispatcher', dispatcherEnv);
const logger = createLogger('dispatcher', env.LOG_LEVEL);

/** Adding a provider: one plugin in libs/providers and one line here. */
const registry = new ProviderRegistry([new SelfHostedPlugin('local'), new SelfHostedPlugin('worker')]);

runService('dispatcher', logger, async () => {
  const prisma = createPrismaClient(env.DATABASE_URL);
  const redis = createRedis(env.REDIS_URL, 'worker');
  const tracker = new JobTracker(prisma);
  const useCase = new DispatchJobUseCase(prisma, registry, new AdmitAllGate(), logger);
  const worker = startProcessor(
    'dispatch',
    async (payload, job) => {
      try {
        await useCase.execute(payload);
      } catch (err) {
        if (!(err instanceof NotYetError)) throw err;
        await job.moveToDelayed(Date.now() + err.retryAfterMs, job.token);
        throw new DelayedError();
      }
    },
    {
      connection: redis, concurrency: env.DISPATCHER_CONCURRENCY, logger,
      onFinalFailure: async (p, err) => {
        const { jobId, orgId } = p as { jobId: string; orgId: string };
        await tracker.transition({ orgId, jobId, to: 'failed', from: ['packaging', 'uploading'], reason: `dispatch failed: ${err.message}`, patch: { error: err.message } });
      },
    },
  );
  const server = await startHttp({
    service: 'dispatcher', port: env.DISPATCHER_PORT, host: env.HEALTH_HOST, logger,
    ready: async () => ({ postgres: await probe(() => prisma.$queryRaw`SELECT 1`), redis: await probe(() => redis.ping()) }),
  });
  return async () => {
    await worker.close();
    server.close();
    redis.disconnect();
    await prisma.$disconnect();
  };
});

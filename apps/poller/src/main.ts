import { loadEnvOrExit, pollerEnv, storageMasterKey } from '@ct/config';
import { createLogger } from '@ct/logging';
import { createPrismaClient, JobTracker, OutboxRepository, ProviderSettingsRepository, SecretBox, WorkerRepository } from '@ct/persistence';
import { createRedis, OutboxRelay, QueueProducer, readiness, runService, startHttp, startProcessor } from '@ct/queue';
import { every, monitorWorkers, reconcileStuckJobs } from './maintenance';
import { ReplicateTracking } from './replicate-tracking';

/**
 * The poller applies every status report through one code path (JobTracker.applyReport), finalizes
 * terminal jobs, and runs the maintenance loops: outbox relay, heartbeat monitor, reconciler.
 */
const env = loadEnvOrExit('poller', pollerEnv);
const logger = createLogger('poller', env.LOG_LEVEL);

runService('poller', logger, async () => {
  const prisma = createPrismaClient(env.DATABASE_URL);
  const redis = createRedis(env.REDIS_URL, 'worker');
  const producerRedis = createRedis(env.REDIS_URL, 'producer');
  const tracker = new JobTracker(prisma);
  const workers = new WorkerRepository(prisma);
  const outbox = new OutboxRepository(prisma);
  const producer = new QueueProducer(producerRedis, env.QUEUE_PREFIX);
  const replicate = new ReplicateTracking(env, prisma, new ProviderSettingsRepository(prisma, new SecretBox(storageMasterKey(env))), producer, logger);

  const events = startProcessor(
    'provider-events',
    async (report) => {
      const outcome = await tracker.applyReport(report);
      if (!outcome.applied) logger.info({ jobId: report.jobId, kind: report.kind, reason: outcome.reason }, 'report not applied');
    },
    { connection: redis, concurrency: 8, logger, prefix: env.QUEUE_PREFIX },
  );
  const finalize = startProcessor(
    'finalize',
    async ({ jobId, orgId }) => {
      const job = await prisma.job.findFirst({ where: { id: jobId, orgId } });
      if (!job) return;
      await workers.releaseLeases(jobId, job.status);
      await replicate.finalize(job);
      logger.info({ jobId, status: job.status }, 'job finalized');
    },
    { connection: redis, concurrency: 4, logger, prefix: env.QUEUE_PREFIX },
  );
  const polls = startProcessor('poll', (p) => replicate.poll(p), { connection: redis, concurrency: 16, logger, prefix: env.QUEUE_PREFIX });
  const relay = new OutboxRelay(outbox, producer, producerRedis, logger, env.OUTBOX_POLL_MS, undefined, env.QUEUE_PREFIX);
  relay.start();
  const stops = [
    every(env.MONITOR_INTERVAL_MS, 'heartbeat monitor', logger, () => monitorWorkers(workers, env.WORKER_HEARTBEAT_TIMEOUT_MS, logger)),
    every(env.RECONCILE_INTERVAL_MS, 'reconciler', logger, () => reconcileStuckJobs(prisma, env.RECONCILE_STUCK_AFTER_MS, logger, 2 * Math.max(env.REPLICATE_POLL_WITH_WEBHOOKS_MS, env.REPLICATE_POLL_MAX_MS), (q) => producer.backlog(q))),
    every(3_600_000, 'outbox prune', logger, () => outbox.prune(24 * 3_600_000)),
  ];
  const server = await startHttp({
    service: 'poller', port: env.POLLER_PORT, host: env.HEALTH_HOST, logger,
    ready: readiness({ postgres: () => prisma.$queryRaw`SELECT 1`, redis: () => redis.ping() }),
  });
  return async () => {
    stops.forEach((s) => s());
    await relay.stop();
    await Promise.all([events.close(), finalize.close(), polls.close()]);
    await producer.close();
    server.close();
    redis.disconnect();
    producerRedis.disconnect();
    await prisma.$disconnect();
  };
});

import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { gatewayEnv, loadEnvOrExit, type GatewayEnv } from '@ct/config';
import { ArtifactRepository, createPrismaClient, JobRepository, JobTracker, OrgRepository, PrismaClient, WorkerRepository } from '@ct/persistence';
import { createRedis, type Redis } from '@ct/queue';
import { GATEWAY_ENV, PRODUCER_REDIS } from './infra.tokens';
import { JobEventsHub } from './events/job-events.hub';

const repo = <T>(cls: new (p: PrismaClient) => T) => ({ provide: cls, useFactory: (p: PrismaClient) => new cls(p), inject: [PrismaClient] });

/** Composition of the gateway's outside world: env, Postgres, Redis. */
@Global()
@Module({
  providers: [
    { provide: GATEWAY_ENV, useFactory: () => loadEnvOrExit('api-gateway', gatewayEnv) },
    { provide: PrismaClient, useFactory: (env: GatewayEnv) => createPrismaClient(env.DATABASE_URL), inject: [GATEWAY_ENV] },
    { provide: PRODUCER_REDIS, useFactory: (env: GatewayEnv) => createRedis(env.REDIS_URL, 'producer'), inject: [GATEWAY_ENV] },
    repo(JobRepository),
    repo(JobTracker),
    repo(WorkerRepository),
    repo(OrgRepository),
    repo(ArtifactRepository),
    JobEventsHub,
  ],
  exports: [GATEWAY_ENV, PrismaClient, PRODUCER_REDIS, JobRepository, JobTracker, WorkerRepository, OrgRepository, ArtifactRepository, JobEventsHub],
})
export class InfraModule implements OnApplicationShutdown {
  constructor(private readonly prisma: PrismaClient, @Inject(PRODUCER_REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
    await this.prisma.$disconnect();
  }
}

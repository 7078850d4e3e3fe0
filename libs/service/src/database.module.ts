import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ArtifactRepository, ConsentRepository, SpendRepository, createPrismaClient, JobRepository, JobTracker, OrgRepository, OutboxRepository, PrismaClient, ServiceInstanceRepository, WorkerRepository } from '@ct/persistence';
import { PresenceService } from './presence.service';

const DATABASE_POOL = Symbol('DATABASE_POOL');
const REPOSITORIES = [JobRepository, JobTracker, ConsentRepository, SpendRepository, WorkerRepository, OrgRepository, ArtifactRepository, OutboxRepository, ServiceInstanceRepository] as const;

/** One Prisma client per process, the repositories every service shares (plain classes over it), and the instance's presence. */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_POOL) private readonly prisma: PrismaClient) {}

  static forRoot(databaseUrl: string, poolSize = 10): DynamicModule {
    const prisma = { provide: PrismaClient, useFactory: () => createPrismaClient(databaseUrl, poolSize) };
    const repos = REPOSITORIES.map((cls) => ({ provide: cls, useFactory: (p: PrismaClient) => new cls(p), inject: [PrismaClient] }));
    return {
      module: DatabaseModule,
      providers: [prisma, { provide: DATABASE_POOL, useExisting: PrismaClient }, ...repos, PresenceService],
      exports: [PrismaClient, ...REPOSITORIES],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
  }
}

import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client';
import { signalOutboxCommits } from './outbox-signal';

export { PrismaClient };
export type { Prisma } from './generated/prisma/client';
export type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/** One Prisma client per process, on the pg driver adapter (no Rust engine at run time); its commits of outbox rows wake the relay. */
export function createPrismaClient(databaseUrl: string, poolSize = 10): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return signalOutboxCommits(new PrismaClient({ adapter }));
}

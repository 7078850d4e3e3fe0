import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { PrismaClient } from '@ct/persistence';
import type { Redis } from '@ct/queue';
import { Public } from '../common/auth';
import { PRODUCER_REDIS } from '../infra.tokens';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly prisma: PrismaClient, @Inject(PRODUCER_REDIS) private readonly redis: Redis) {}

  /** Liveness: the process answers. */
  @Get()
  live() {
    return { status: 'ok', service: 'api-gateway' };
  }

  /** Readiness: Postgres and Redis answer. */
  @Get('ready')
  async ready() {
    const checks = await readinessChecks(this.prisma, this.redis);
    if (Object.values(checks).some((c) => c !== 'ok')) throw new HttpException({ status: 'unavailable', checks }, 503);
    return { status: 'ok', checks };
  }
}

export async function readinessChecks(prisma: PrismaClient, redis: Redis): Promise<Record<string, string>> {
  const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, r) => setTimeout(() => r(new Error('timeout')), 2_000))]);
  const [pg, rd] = await Promise.allSettled([timeout(prisma.$queryRaw`SELECT 1`), timeout(redis.ping())]);
  return { postgres: pg.status === 'fulfilled' ? 'ok' : 'down', redis: rd.status === 'fulfilled' ? 'ok' : 'down' };
}

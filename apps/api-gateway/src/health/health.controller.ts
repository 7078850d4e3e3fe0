import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { PrismaClient } from '@ct/persistence';
import { readiness, type Redis } from '@ct/queue';
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
    const checks = await readiness({ postgres: () => this.prisma.$queryRaw`SELECT 1`, redis: () => this.redis.ping() })();
    if (Object.values(checks).some((c) => c !== 'ok')) throw new HttpException({ status: 'unavailable', checks }, 503);
    return { status: 'ok', checks };
  }
}

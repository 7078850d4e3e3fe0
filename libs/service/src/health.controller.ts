import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { Public, READINESS, SERVICE_NAME, type ReadinessChecks } from './service.tokens';

const PROBE_TIMEOUT_MS = 2_000;

/** Wraps a promise so a hung dependency reads as "down" instead of hanging the probe. */
export async function withTimeout<T>(p: Promise<T>, ms = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/health`: the process answers (liveness). `/health/ready`: every dependency answers (readiness), in
 * @nestjs/terminus' shape (`{status, info, error, details}`), 503 when one is down.
 */
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(READINESS) private readonly checks: ReadinessChecks,
    @Inject(SERVICE_NAME) private readonly service: string,
  ) {}

  @Get()
  live() {
    return { status: 'ok', service: this.service };
  }

  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    try {
      const result = await this.health.check(Object.entries(this.checks).map(([name, fn]) => () => this.probe(name, fn)));
      res.status(200).json({ ...result, service: this.service });
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503).json({ ...(err.getResponse() as object), service: this.service });
    }
  }

  private async probe(name: string, fn: () => Promise<unknown>): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(name);
    try {
      await withTimeout(fn());
      return indicator.up();
    } catch (err) {
      // The reason helps an operator; URLs are cut out in case one carries credentials.
      return indicator.down({ message: (err as Error).message.replace(/\w+:\/\/\S+/g, '<url>').slice(0, 200) });
    }
  }
}

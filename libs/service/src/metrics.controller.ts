import { Controller, Get, Headers, Inject, Optional, Res } from '@nestjs/common';
import type { Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Metrics } from './metrics';
import { Public } from './service.tokens';

export const METRICS_TOKEN = Symbol('METRICS_TOKEN');

/** Prometheus text format. With METRICS_TOKEN set, scrapers must send it as a bearer token. */
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics, @Optional() @Inject(METRICS_TOKEN) private readonly token?: string) {}

  @Get()
  async scrape(@Headers('authorization') auth: string | undefined, @Res() res: Response): Promise<void> {
    if (this.token && !sameSecret(auth ?? '', `Bearer ${this.token}`)) {
      res.status(401).type('text/plain').send('metrics need the METRICS_TOKEN bearer token\n');
      return;
    }
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

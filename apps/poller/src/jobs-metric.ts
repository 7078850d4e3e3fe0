import { Injectable, type OnModuleInit } from '@nestjs/common';
import { PrismaClient } from '@ct/persistence';
import { Metrics } from '@ct/service';

/** `ct_jobs{status}`: how many jobs are in each state, counted in Postgres when Prometheus scrapes. */
@Injectable()
export class JobsByStatusMetric implements OnModuleInit {
  constructor(private readonly prisma: PrismaClient, private readonly metrics: Metrics) {}

  onModuleInit(): void {
    const prisma = this.prisma;
    this.metrics.gauge({
      name: 'ct_jobs',
      help: 'Jobs by status (all organisations)',
      labelNames: ['status'],
      async collect() {
        const rows = await prisma.job.groupBy({ by: ['status'], _count: { _all: true } }).catch(() => null);
        if (!rows) return;
        this.reset();
        for (const r of rows) this.set({ status: r.status }, r._count._all);
      },
    });
  }
}

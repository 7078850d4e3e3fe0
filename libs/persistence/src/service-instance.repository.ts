import type { ServiceInstance } from './generated/prisma/client';
import type { PrismaClient } from './prisma';

export type { ServiceInstance };

/** Which service instances are alive, and since when each has been reachable without a gap. */
export class ServiceInstanceRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Says the instance is alive; after a gap longer than `gapMs` its `up_since` starts again. */
  async touch(i: { id: string; service: string; host: string; pid: number }, gapMs: number): Promise<void> {
    await this.prisma.$executeRaw`
      INSERT INTO service_instances (id, service, host, pid, started_at, up_since, last_seen_at)
      VALUES (${i.id}, ${i.service}, ${i.host}, ${i.pid}, now(), now(), now())
      ON CONFLICT (id) DO UPDATE SET last_seen_at = now(),
        up_since = CASE WHEN service_instances.last_seen_at < now() - ${gapMs} * interval '1 millisecond' THEN now() ELSE service_instances.up_since END`;
  }

  async remove(id: string): Promise<void> {
    await this.prisma.serviceInstance.deleteMany({ where: { id } });
  }

  /**
   * Since when some instance of `service` has been reachable without a gap (the earliest `up_since` among
   * the instances seen within `aliveWithinMs`); null when none is alive now.
   */
  async reachableSince(service: string, aliveWithinMs: number): Promise<Date | null> {
    const r = await this.prisma.serviceInstance.aggregate({ where: { service, lastSeenAt: { gt: new Date(Date.now() - aliveWithinMs) } }, _min: { upSince: true } });
    return r._min.upSince ?? null;
  }

  alive(service: string, aliveWithinMs: number): Promise<ServiceInstance[]> {
    return this.prisma.serviceInstance.findMany({ where: { service, lastSeenAt: { gt: new Date(Date.now() - aliveWithinMs) } }, orderBy: { startedAt: 'asc' } });
  }

  /** Instances not seen for long are gone (a crash leaves its row behind). */
  async prune(olderThanMs: number): Promise<number> {
    const { count } = await this.prisma.serviceInstance.deleteMany({ where: { lastSeenAt: { lt: new Date(Date.now() - olderThanMs) } } });
    return count;
  }
}

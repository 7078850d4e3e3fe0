import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { PrismaClient, PROCESS_ID, ServiceInstanceRepository } from '@ct/persistence';
import { SERVICE_NAME } from './service.tokens';

export const PRESENCE_INTERVAL_MS = 2_000;
/** Refreshes further apart than this are a gap: the instance was unreachable (or the database was). */
export const PRESENCE_GAP_MS = 3 * PRESENCE_INTERVAL_MS;

/**
 * Every few seconds the instance says it is alive (`service_instances`). The heartbeat monitor uses the
 * gateways' rows to tell a silent worker from one no gateway could hear; operators see what runs where.
 */
@Injectable()
export class PresenceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PresenceService.name);
  private readonly repo: ServiceInstanceRepository;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(prisma: PrismaClient, @Inject(SERVICE_NAME) private readonly service: string) {
    this.repo = new ServiceInstanceRepository(prisma);
  }

  onApplicationBootstrap(): void {
    void this.touch();
    this.timer = setInterval(() => void this.touch(), PRESENCE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.repo.remove(PROCESS_ID).catch(() => undefined);
  }

  private async touch(): Promise<void> {
    try {
      await this.repo.touch({ id: PROCESS_ID, service: this.service, host: hostname(), pid: process.pid }, PRESENCE_GAP_MS);
      if (this.failing) this.logger.log('presence recorded again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn(`presence not recorded: ${(err as Error).message.split('\n')[0]}`);
      this.failing = true;
    }
  }
}

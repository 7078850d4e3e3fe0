import { Inject, Injectable } from '@nestjs/common';
import type { MaintenanceTask } from '@ct/contracts';
import type { PollerEnv } from '@ct/config';
import type { Logger } from '@ct/logging';
import { ConsentRepository, OutboxRepository, PrismaClient, SpendRepository, ServiceInstanceRepository, WebhookDeliveryRepository, WorkerRepository } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { QueueProducer } from '@ct/queue';
import { LOGGER, Metrics, STORAGE_DRIVER } from '@ct/service';
import { MultipartUploads, type StorageDriver } from '@ct/storage';
import { monitorWorkers, Reconciler } from './maintenance';

export const POLLER_ENV = Symbol('POLLER_ENV');
const DAY_MS = 24 * 3_600_000;

/** What each maintenance task does; each runs once per interval for the whole deployment (a BullMQ scheduler). */
@Injectable()
export class MaintenanceTasks {
  private readonly reconciler: Reconciler;
  private readonly runs;

  constructor(
    @Inject(POLLER_ENV) private readonly env: PollerEnv,
    private readonly prisma: PrismaClient,
    private readonly workers: WorkerRepository,
    private readonly instances: ServiceInstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly producer: QueueProducer,
    providers: ProviderRegistry,
    @Inject(STORAGE_DRIVER) private readonly driver: StorageDriver,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.reconciler = new Reconciler(prisma, producer, providers, logger);
    this.runs = metrics.counter({ name: 'ct_maintenance_runs_total', help: 'Maintenance task runs in this replica, by task and outcome', labelNames: ['task', 'outcome'] });
  }

  /** The intervals of the deployment's schedulers. */
  static schedule(env: PollerEnv): Record<MaintenanceTask, number> {
    return {
      'heartbeat-monitor': env.MONITOR_INTERVAL_MS,
      reconcile: env.RECONCILE_INTERVAL_MS,
      'outbox-prune': env.PRUNE_INTERVAL_MS,
      'webhook-prune': env.PRUNE_INTERVAL_MS,
      'storage-prune': env.PRUNE_INTERVAL_MS,
      'consent-expiry': env.CONSENT_EXPIRY_INTERVAL_MS,
      'spend-guard': env.SPEND_GUARD_INTERVAL_MS,
    };
  }

  async run(task: MaintenanceTask): Promise<void> {
    try {
      await this.task(task);
      this.runs.inc({ task, outcome: 'ok' });
    } catch (err) {
      this.runs.inc({ task, outcome: 'error' });
      throw err;
    }
  }

  private async task(task: MaintenanceTask): Promise<void> {
    switch (task) {
      case 'heartbeat-monitor':
        return monitorWorkers({ workers: this.workers, instances: this.instances, logger: this.logger }, this.env.WORKER_HEARTBEAT_TIMEOUT_MS);
      case 'reconcile':
        await this.reconciler.run(this.env.RECONCILE_STUCK_AFTER_MS);
        return;
      case 'outbox-prune':
        await this.outbox.prune(DAY_MS);
        return;
      case 'webhook-prune':
        await new WebhookDeliveryRepository(this.prisma).prune(7 * DAY_MS);
        await this.instances.prune(DAY_MS);
        return;
      case 'consent-expiry': {
        const expired = await new ConsentRepository(this.prisma).expire();
        if (expired) this.logger.info({ expired }, 'jobs cancelled: no answer to their consent request in time');
        return;
      }
      case 'spend-guard': {
        const { cancelled, warned } = await new SpendRepository(this.prisma).guard(this.env.COST_LIMIT_GRACE_MS);
        if (cancelled || warned) this.logger.info({ cancelled, warned }, 'spending limits and maximum runtimes enforced');
        return;
      }
      case 'storage-prune': {
        // Multipart uploads never completed nor aborted go after a week, like an S3 lifecycle rule would.
        const uploads = await new MultipartUploads(this.driver).pruneStale(7 * DAY_MS);
        // Temporary files a process killed mid-write left behind (a day old: no write in progress is that slow).
        const temporary = await this.driver.pruneTemporary(DAY_MS);
        if (uploads || temporary) this.logger.info({ uploads, temporary }, 'storage leftovers removed');
        return;
      }
    }
  }
}

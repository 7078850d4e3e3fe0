import { Inject, Injectable, type OnApplicationBootstrap, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@ct/logging';
import { OutboxRepository } from '@ct/persistence';
import { EventBus, OutboxRelay, QueueProducer } from '@ct/queue';
import { LOGGER } from '@ct/service';

export const OUTBOX_POLL_MS = Symbol('OUTBOX_POLL_MS');

/** Runs the outbox relay in every poller replica (rows are shared out with SKIP LOCKED). */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: OutboxRelay;

  constructor(outbox: OutboxRepository, producer: QueueProducer, events: EventBus, @Inject(LOGGER) logger: Logger, @Inject(OUTBOX_POLL_MS) intervalMs: number) {
    this.relay = new OutboxRelay(outbox, producer, events, logger, intervalMs);
  }

  onApplicationBootstrap(): void {
    this.relay.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}

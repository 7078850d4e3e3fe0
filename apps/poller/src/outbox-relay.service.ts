import { Inject, Injectable, type OnApplicationBootstrap, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@ct/logging';
import { OutboxRepository } from '@ct/persistence';
import { EventBus, OUTBOX_COMMITTED_EVENT, OutboxRelay, QueueProducer } from '@ct/queue';
import { LOGGER } from '@ct/service';

export const OUTBOX_POLL_MS = Symbol('OUTBOX_POLL_MS');

/**
 * Runs the outbox relay in every poller replica (rows are shared out with SKIP LOCKED), woken by every
 * service's commits (libs/queue OutboxWake) and polling every OUTBOX_POLL_MS as the safety net.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: OutboxRelay;
  private unsubscribe: (() => void) | null = null;

  constructor(outbox: OutboxRepository, producer: QueueProducer, private readonly events: EventBus, @Inject(LOGGER) logger: Logger, @Inject(OUTBOX_POLL_MS) intervalMs: number) {
    this.relay = new OutboxRelay(outbox, producer, events, logger, intervalMs);
  }

  onApplicationBootstrap(): void {
    this.unsubscribe = this.events.subscribe(OUTBOX_COMMITTED_EVENT, () => this.relay.wake());
    this.relay.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.relay.stop();
  }
}

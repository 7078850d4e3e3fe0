import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { onOutboxCommitted } from '@ct/persistence';
import { EventBus } from './event-bus';

/** The event that wakes the outbox relays (libs/queue OutboxRelay). */
export const OUTBOX_COMMITTED_EVENT = 'outbox-committed';

/**
 * Tells the outbox relays, over the event bus, that this process committed outbox rows, so a change
 * reaches Redis in milliseconds instead of at the relay's next poll. One message in flight per process:
 * commits during it are folded into one more message. A lost message costs one poll interval, nothing more.
 */
@Injectable()
export class OutboxWake implements OnModuleInit, OnModuleDestroy {
  private inFlight = false;
  private again = false;
  private off: (() => void) | null = null;

  constructor(private readonly bus: EventBus) {}

  onModuleInit(): void {
    this.off = onOutboxCommitted(() => this.signal());
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  private signal(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.again = false;
    this.bus
      .publish(OUTBOX_COMMITTED_EVENT, 0)
      .catch(() => undefined) // Redis is down: the relay's poll picks the rows up.
      .finally(() => {
        this.inFlight = false;
        if (this.again) this.signal();
      });
  }
}

import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { eventChannel } from '@ct/contracts';
import type { Redis } from 'ioredis';
import { createRedis } from './connection';
import { QUEUE_CONFIG, type QueueConfig } from './queue.tokens';

type Handler = (payload: unknown) => void;

/**
 * Events between services (job changed, settings changed) on Redis pub/sub under the deployment's prefix,
 * so every replica of a service hears every event. Written on ioredis rather than @nestjs/microservices'
 * Redis transport, whose server fails the application's start when Redis is down at boot and, by default,
 * never reconnects after Redis restarts (measured; docs/DESIGN.md). ioredis resubscribes by itself.
 * Events are hints that something changed: the database row stays the truth, so a missed event costs a
 * delay, never a wrong state.
 */
@Injectable()
export class EventBus implements OnModuleDestroy {
  private readonly logger = new Logger(EventBus.name);
  private publisher: Redis | null = null;
  private subscriber: Redis | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(@Inject(QUEUE_CONFIG) private readonly config: QueueConfig) {}

  /** Rejects when Redis does not take it (the outbox keeps such events and tries again). */
  async publish(name: string, payload: unknown): Promise<void> {
    this.publisher ??= createRedis(this.config.redisUrl, 'producer');
    await this.publisher.publish(eventChannel(this.config.prefix, name), JSON.stringify(payload));
  }

  /** Calls `handler` for every event of this name until the returned function is called. */
  subscribe(name: string, handler: Handler): () => void {
    const channel = eventChannel(this.config.prefix, name);
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      void this.connection().subscribe(channel).catch((err: Error) => this.logger.warn(`subscribing to ${channel} failed: ${err.message}`));
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  private connection(): Redis {
    if (!this.subscriber) {
      this.subscriber = createRedis(this.config.redisUrl, 'subscriber');
      this.subscriber.on('error', (err: Error) => this.logger.warn(`event subscription: ${err.message}`));
      this.subscriber.on('message', (channel: string, message: string) => this.deliver(channel, message));
    }
    return this.subscriber;
  }

  private deliver(channel: string, message: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      return this.logger.warn(`ignored a malformed event on ${channel}`);
    }
    for (const h of this.handlers.get(channel) ?? []) {
      try {
        h(payload);
      } catch (err) {
        this.logger.warn(`an event handler for ${channel} failed: ${(err as Error).message}`);
      }
    }
  }

  onModuleDestroy(): void {
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}

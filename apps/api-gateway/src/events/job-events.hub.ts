import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { eventChannel, JOB_EVENTS_CHANNEL, jobChangedEvent, type JobChangedEvent } from '@ct/contracts';
import { createRedis, type Redis } from '@ct/queue';
import { EventEmitter } from 'node:events';
import { Observable } from 'rxjs';
import { GATEWAY_ENV } from '../infra.tokens';
import { Inject } from '@nestjs/common';
import type { GatewayEnv } from '@ct/config';

/** Fans job-changed notifications from Redis out to this gateway's SSE clients and waiting workers. */
@Injectable()
export class JobEventsHub implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobEventsHub.name);
  private readonly emitter = new EventEmitter();
  private subscriber: Redis | null = null;

  constructor(@Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {
    this.emitter.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    this.subscriber = createRedis(this.env.REDIS_URL, 'subscriber');
    this.subscriber.on('message', (_channel: string, message: string) => this.dispatch(message));
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'event subscription error'));
    await this.subscriber.subscribe(eventChannel(this.env.QUEUE_PREFIX, JOB_EVENTS_CHANNEL));
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  private dispatch(message: string): void {
    try {
      const event = jobChangedEvent.parse(JSON.parse(message));
      this.emitter.emit(`org:${event.orgId}`, event);
      this.emitter.emit(`job:${event.jobId}`, event);
    } catch {
      this.logger.warn('ignored a malformed job event');
    }
  }

  /** Job changes of one organisation only. */
  stream(orgId: string): Observable<JobChangedEvent> {
    return new Observable((sub) => {
      const listener = (e: JobChangedEvent) => sub.next(e);
      this.emitter.on(`org:${orgId}`, listener);
      return () => this.emitter.off(`org:${orgId}`, listener);
    });
  }

  /** Resolves when something happens in the organisation (or the job), or after `ms`. */
  waitFor(key: { orgId: string } | { jobId: string }, ms: number, signal?: AbortSignal): Promise<void> {
    const name = 'orgId' in key ? `org:${key.orgId}` : `job:${key.jobId}`;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(name, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.on(name, done);
      signal?.addEventListener('abort', done);
    });
  }
}

import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { JOB_EVENTS_CHANNEL, jobChangedEvent, type JobChangedEvent } from '@ct/contracts';
import { EventBus } from '@ct/queue';
import { EventEmitter } from 'node:events';
import { Observable } from 'rxjs';

/**
 * Fans job-changed events from the event bus out to this gateway's SSE clients and waiting workers.
 * Every gateway replica subscribes, so a client sees every change whichever replica it is connected to.
 */
@Injectable()
export class JobEventsHub implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(JobEventsHub.name);
  private readonly emitter = new EventEmitter();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly events: EventBus) {
    this.emitter.setMaxListeners(0);
  }

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe(JOB_EVENTS_CHANNEL, (payload) => this.dispatch(payload));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  private dispatch(payload: unknown): void {
    const parsed = jobChangedEvent.safeParse(payload);
    if (!parsed.success) return this.logger.warn('ignored a malformed job event');
    this.emitter.emit(`org:${parsed.data.orgId}`, parsed.data);
    this.emitter.emit(`job:${parsed.data.jobId}`, parsed.data);
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

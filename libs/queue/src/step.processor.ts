import { Processor, WorkerHost } from '@nestjs/bullmq';
import { applyDecorators, SetMetadata, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, UnrecoverableError, WaitingChildrenError, type Job, type WorkerOptions } from 'bullmq';
import { DomainError } from '@ct/job-domain';
import { QUEUE_PAYLOADS, type QueueName, type QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import { stepMetrics } from './queue-metrics';

/** Domain errors that a retry cannot fix. Anything else (network, database, Redis) is retried with backoff. */
const PERMANENT_CODES = new Set([
  'validation_failed', 'not_found', 'illegal_transition', 'dataset_path_outside_roots', 'dataset_path_missing',
  'dataset_path_unreadable', 'dataset_symlink_escape', 'package_too_large', 'provider_unknown', 'provider_unavailable',
  'provider_not_configured', 'unsupported', 'forbidden',
]);

/** An error that says of itself whether trying again can help (e.g. a provider's 4xx vs its 5xx). */
interface Classified {
  retryable: boolean;
}
function isClassified(err: unknown): err is Error & Classified {
  return err instanceof Error && typeof (err as Partial<Classified>).retryable === 'boolean';
}

export function isPermanent(err: unknown): boolean {
  if (err instanceof DomainError) return PERMANENT_CODES.has(err.code);
  return isClassified(err) && !err.retryable;
}

/** Not failures: the step moved itself to delayed (or to waiting for children) and returns later. */
function isReschedule(err: unknown): boolean {
  return err instanceof DelayedError || err instanceof WaitingChildrenError;
}

/** "Not yet": a gate said wait, or another replica's claim still holds. The step runs again after the wait. */
export class RetryLaterError extends Error {
  constructor(readonly retryAfterMs: number, reason: string) {
    super(reason);
    this.name = 'RetryLaterError';
  }
}

/** How many times a step may put itself off (a provider rate-limiting or down, a gate saying wait) before it fails. */
export const MAX_STEP_DELAYS = 30;
const MAX_DELAY_MS = 60_000;

/** The wait before trying again without spending an attempt, or null when the error is a plain failure. */
export function retryLaterMs(err: unknown, delaysSoFar: number): number | null {
  if (err instanceof RetryLaterError) return Math.max(0, err.retryAfterMs);
  if (!isClassified(err) || !err.retryable || delaysSoFar >= MAX_STEP_DELAYS) return null;
  const hinted = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return Math.min(typeof hinted === 'number' ? hinted : 2_000 * 2 ** Math.min(delaysSoFar, 4), MAX_DELAY_MS);
}

export const STEP_QUEUE = 'ct:step-queue';

/**
 * A killed consumer's item is handed to another replica within about `lockDuration + stalledInterval`
 * (BullMQ's defaults make that up to a minute). Steps hold their own claim on the job row, so a false stall
 * (an event loop blocked past the lock) cannot make two replicas do the same work.
 */
const WORKER_DEFAULTS: Partial<WorkerOptions> = { lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 3 };

/** `@Processor` of @nestjs/bullmq plus the metadata the boot check reads. */
export function QueueProcessor(queue: QueueName, options: Partial<WorkerOptions> = {}): ClassDecorator {
  return applyDecorators(Processor(queue, { ...WORKER_DEFAULTS, ...options }), SetMetadata(STEP_QUEUE, queue));
}

/**
 * One processor class per queue. The payload is parsed before the handler sees it; handlers throw on
 * failure so the queue records it; permanent errors are not retried. "Not yet" (RetryLaterError, or a
 * provider's retryable error: a rate limit, an outage) puts the step off without spending an attempt, up to
 * MAX_STEP_DELAYS times; a step put off is never counted as a failure, on its last attempt included.
 */
export abstract class StepProcessor<Q extends QueueName> extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected constructor(
    protected readonly queue: Q,
    protected readonly logger: Logger,
    private readonly concurrency: number,
  ) {
    super();
  }

  protected abstract handle(payload: QueuePayload<Q>, job: Job): Promise<void>;

  /** Called when the last attempt failed, or the error was permanent (e.g. to fail the training job). */
  protected onFinalFailure?(payload: QueuePayload<Q>, err: Error): Promise<void>;

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.concurrency;
    // During a Redis outage the worker fails every few hundred milliseconds: one line per 10 s says enough.
    let lastLogged = 0;
    let suppressed = 0;
    this.worker.on('error', (err) => {
      if (Date.now() - lastLogged < 10_000) return void suppressed++;
      this.logger.error({ queue: this.queue, err: err.message, suppressed }, 'queue worker error');
      lastLogged = Date.now();
      suppressed = 0;
    });
  }

  /** Stop taking items before the database and Redis connections close; running items finish. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }

  async process(job: Job): Promise<void> {
    const parsed = QUEUE_PAYLOADS[this.queue].safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid ${this.queue} payload: ${parsed.error.message}`);
    const payload = parsed.data as QueuePayload<Q>;
    const ready = job.timestamp + (job.delay ?? 0);
    stepMetrics.wait().observe({ queue: this.queue }, Math.max(0, Date.now() - ready) / 1000);
    try {
      await this.handle(payload, job);
      stepMetrics.outcomes().inc({ queue: this.queue, outcome: 'ok' });
    } catch (err) {
      if (isReschedule(err)) throw err;
      const delays = Number((job.data as { delays?: unknown }).delays ?? 0) || 0;
      const wait = retryLaterMs(err, delays);
      if (wait !== null) {
        this.logger.warn({ queue: this.queue, jobId: (payload as { jobId?: string }).jobId, waitMs: wait, reason: (err as Error).message }, 'step delayed');
        await job.updateData({ ...job.data, delays: delays + 1 });
        await job.moveToDelayed(Date.now() + wait, job.token);
        stepMetrics.outcomes().inc({ queue: this.queue, outcome: 'delayed' });
        throw new DelayedError();
      }
      const permanent = isPermanent(err);
      const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const jobId = (payload as { jobId?: string }).jobId;
      this.logger.warn({ queue: this.queue, jobId, attempt: job.attemptsMade + 1, err: (err as Error).message, final }, 'step failed');
      stepMetrics.outcomes().inc({ queue: this.queue, outcome: final ? 'failed' : 'retry' });
      if (final && this.onFinalFailure) await this.onFinalFailure(payload, err as Error);
      if (permanent) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
  }
}

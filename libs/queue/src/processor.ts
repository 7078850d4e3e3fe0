import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { DomainError } from '@ct/job-domain';
import { QUEUE_PAYLOADS, type QueueName, type QueuePayload } from '@ct/contracts';
import type { Logger } from '@ct/logging';
import type { Redis } from 'ioredis';

/** Domain errors that a retry cannot fix. Anything else (network, database, Redis) is retried with backoff. */
const PERMANENT_CODES = new Set([
  'validation_failed', 'not_found', 'illegal_transition', 'dataset_path_outside_roots', 'dataset_path_missing',
  'dataset_path_unreadable', 'dataset_symlink_escape', 'package_too_large', 'provider_unknown', 'unsupported', 'forbidden',
]);

export function isPermanent(err: unknown): boolean {
  return err instanceof DomainError && PERMANENT_CODES.has(err.code);
}

export interface ProcessorOptions {
  connection: Redis;
  concurrency?: number;
  logger: Logger;
  prefix?: string;
  /** Called when the last attempt failed (or the error was permanent), e.g. to fail the training job. */
  onFinalFailure?: (payload: unknown, err: Error) => Promise<void>;
}

/**
 * Runs one handler per queue. The payload is parsed before the handler sees it; handlers throw on failure
 * so the queue records it, and permanent errors are not retried.
 */
export function startProcessor<Q extends QueueName>(
  queue: Q,
  handler: (payload: QueuePayload<Q>, job: Job) => Promise<void>,
  opts: ProcessorOptions,
): Worker {
  const log = opts.logger.child({ queue });
  const worker = new Worker(
    queue,
    async (job: Job) => {
      const parsed = QUEUE_PAYLOADS[queue].safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${queue} payload: ${parsed.error.message}`);
      const payload = parsed.data as QueuePayload<Q>;
      try {
        await handler(payload, job);
      } catch (err) {
        const final = isPermanent(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        log.warn({ jobId: payload.jobId, attempt: job.attemptsMade + 1, err: (err as Error).message, final }, 'step failed');
        if (final && opts.onFinalFailure) await opts.onFinalFailure(payload, err as Error);
        if (isPermanent(err)) throw new UnrecoverableError((err as Error).message);
        throw err;
      }
    },
    { connection: opts.connection, concurrency: opts.concurrency ?? 4, prefix: opts.prefix ?? 'ct' },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'queue worker error'));
  return worker;
}

import { z } from 'zod';

/** BullMQ queues. Payloads carry ids (and small reports), never blobs; the database row is the truth. */
export const QUEUES = {
  package: 'package',
  dispatch: 'dispatch',
  finalize: 'finalize',
  poll: 'poll',
  purge: 'purge',
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
/** Queues whose items are about one training job (all but maintenance). */
export type JobQueueName = Exclude<QueueName, 'maintenance'>;

/** The one service that consumes each queue; every service checks at boot that it has exactly its handlers. */
export const QUEUE_CONSUMERS: Readonly<Record<QueueName, string>> = {
  package: 'packager',
  dispatch: 'dispatcher',
  finalize: 'poller',
  poll: 'poller',
  purge: 'poller',
  maintenance: 'poller',
};

const jobRef = z.object({ v: z.literal(1), jobId: z.string().min(1), orgId: z.string().min(1) });

export const packagePayload = jobRef;
export const dispatchPayload = jobRef;
export const finalizePayload = jobRef;
/**
 * One status poll of a provider-run job; `n` counts polls so the delay can back off. `immediate` skips the
 * provider's quiet-interval deferral (an adopted run, a refused webhook); `once` is a poll outside the
 * job's chain, which schedules no successor.
 */
export const pollPayload = jobRef.extend({
  n: z.number().int().nonnegative().default(0),
  immediate: z.boolean().optional(),
  once: z.boolean().optional(),
});

export const progressReport = z.object({
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive().nullable().optional(),
  loss: z.number().nullable().optional(),
  checkpoint: z.string().max(1024).nullable().optional(),
});
export type ProgressReport = z.infer<typeof progressReport>;

/** A status report from any source (worker, webhook, poll); JobTracker.applyReport applies every one the same way. */
export const providerEventPayload = jobRef.extend({
  source: z.enum(['worker', 'webhook', 'poll', 'monitor']),
  /** Fencing token of the lease the report was made under (worker reports). */
  fence: z.number().int().nonnegative().optional(),
  kind: z.enum(['queued', 'started', 'progress', 'completed', 'failed', 'cancelled', 'lost']),
  /** Billed provider seconds so far, for cost accrual (provider reports). */
  billedSeconds: z.number().nonnegative().optional(),
  costMicros: z.string().regex(/^\d+$/).optional(),
  progress: progressReport.optional(),
  exitCode: z.number().int().min(-2_147_483_648).max(2_147_483_647).nullable().optional(),
  message: z.string().max(4000).optional(),
  occurredAt: z.string().datetime(),
});
export type ProviderEventPayload = z.infer<typeof providerEventPayload>;

/** A deleted job's objects: its package and (unless kept) its outputs are removed from storage. */
export const purgePayload = jobRef.extend({ keepOutputs: z.boolean().default(false) });

/** Periodic work (BullMQ job schedulers: one run per interval in the whole deployment); the job name is the task. */
export const maintenancePayload = z.object({}).passthrough();
export const MAINTENANCE_TASKS = ['heartbeat-monitor', 'reconcile', 'outbox-prune', 'webhook-prune', 'storage-prune', 'consent-expiry', 'spend-guard'] as const;
export type MaintenanceTask = (typeof MAINTENANCE_TASKS)[number];

export const QUEUE_PAYLOADS = {
  [QUEUES.package]: packagePayload,
  [QUEUES.dispatch]: dispatchPayload,
  [QUEUES.finalize]: finalizePayload,
  [QUEUES.poll]: pollPayload,
  [QUEUES.purge]: purgePayload,
  [QUEUES.maintenance]: maintenancePayload,
} as const;

export type QueuePayload<Q extends QueueName> = z.infer<(typeof QUEUE_PAYLOADS)[Q]>;

/** Deterministic BullMQ job ids (no ':'), so an enqueue repeated by the relay or reconciler is harmless. */
export function queueJobId(queue: JobQueueName, jobId: string, suffix?: string): string {
  return suffix ? `${queue}-${jobId}-${suffix}` : `${queue}-${jobId}`;
}

/** Redis pub/sub channel carrying job-changed notifications to the gateway's SSE clients (logical name). */
export const JOB_EVENTS_CHANNEL = 'job-events';
/** The Redis channel of a logical event name under a deployment's queue prefix. */
export function eventChannel(prefix: string, name: string): string {
  return `${prefix}:${name.replace(/^ct:/, '')}`;
}
export const jobChangedEvent = z.object({
  type: z.literal('job.changed'),
  orgId: z.string(),
  jobId: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  at: z.string(),
});
export type JobChangedEvent = z.infer<typeof jobChangedEvent>;

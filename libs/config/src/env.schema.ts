import { z } from 'zod';

const port = (dflt: number) => z.coerce.number().int().min(0).max(65535).default(dflt);
const ms = (dflt: number) => z.coerce.number().int().positive().default(dflt);

/** Settings every service shares. */
export const commonEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/postgres'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  SIMPLETUNER_STATE_DIR: z.string().optional(),
  /** Shared secret the gateway and storage derive per-job S3 secrets from; generated into the state dir when unset. */
  STORAGE_MASTER_KEY: z.string().min(32).optional(),
  /** Address the queue services' /health endpoints bind to (0.0.0.0 in containers). */
  HEALTH_HOST: z.string().default('127.0.0.1'),
  /** Prefix of every BullMQ key and event channel in Redis: deployments (or test runs) sharing one Redis stay apart. */
  /** When set, /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16).optional(),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, dash and underscore only').default('ct'),
});

const datasetRoots = z
  .string()
  .default('')
  .transform((v) => v.split(/[,:]/).map((s) => s.trim()).filter((s) => s.length > 0));

/**
 * Server-side dataset folders of the other organisations of a team deployment: JSON, organisation slug →
 * folders (`{"team-a": ["/mnt/team-a"]}`). Set by the operator, never through the API: an organisation's
 * admin must not be able to point its jobs at the server's disk.
 */
const orgDatasetRoots = jsonVariable(z.record(z.string().min(1).max(100), z.array(z.string().min(1)).max(50)), '{"team-a": ["/mnt/team-a"]}');

/** The most jobs of each provider running at once in the whole deployment: JSON, provider → count (`{"replicate": 20}`). */
const providerConcurrency = jsonVariable(z.record(z.string().min(1).max(50), z.number().int().min(1).max(100_000)), '{"replicate": 20}');

/** A variable holding JSON (default `{}`), parsed by `schema`; a bad value names the shape it should have. */
function jsonVariable<T>(schema: z.ZodType<T>, example: string) {
  return z
    .string()
    .default('{}')
    .transform((v, ctx) => {
      try {
        return schema.parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be JSON like ${example}` });
        return z.NEVER;
      }
    });
}

/** The dataset roots of one organisation: DATASET_ROOTS belongs to the default one, ORG_DATASET_ROOTS names the rest. */
export function datasetRootsFor(env: { DATASET_ROOTS: string[]; ORG_DATASET_ROOTS: Record<string, string[]> }, orgSlug: string): string[] {
  const named = env.ORG_DATASET_ROOTS[orgSlug] ?? [];
  return orgSlug === 'default' ? [...env.DATASET_ROOTS, ...named] : named;
}

/**
 * How the outside reaches this deployment (workers, S3 clients, providers' webhooks). Providers' own
 * variables (API tokens, poll cadences) are validated by each provider library (libs/providers/*).
 */
const publicUrl = { PUBLIC_URL: z.string().url().optional() };

export const gatewayEnv = commonEnv.extend({
  ...publicUrl,
  PORT: port(8001),
  HOST: z.string().default('127.0.0.1'),
  STORAGE_URL: z.string().url().default('http://127.0.0.1:8005'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  WORKER_HEARTBEAT_INTERVAL_MS: ms(5_000),
  WORKER_LEASE_TTL_MS: ms(30_000),
  WORKER_CLAIM_MAX_WAIT_MS: ms(25_000),
  S3_REGION: z.string().default('us-east-1'),
  /** The default organisation's local datasets must live under one of these folders (comma or colon separated). */
  DATASET_ROOTS: datasetRoots,
  ORG_DATASET_ROOTS: orgDatasetRoots,
  /** The deployment's concurrency per provider (the dispatcher enforces it; the gateway shows it in queue positions). */
  PROVIDER_CONCURRENCY: providerConcurrency,
  /** How many times a job whose worker vanished is requeued before it fails. */
  WORKER_MAX_REQUEUES: z.coerce.number().int().min(0).max(100).default(1),
});

export const storageEnv = commonEnv.extend({
  STORAGE_PORT: port(8005),
  STORAGE_HOST: z.string().default('127.0.0.1'),
  STORAGE_DRIVER: z.enum(['fs', 'minio']).default('fs'),
  MINIO_ENDPOINT: z.string().default('127.0.0.1'),
  MINIO_PORT: z.coerce.number().int().default(9000),
  MINIO_USE_SSL: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  MINIO_ACCESS_KEY: z.string().default('minioadmin'),
  MINIO_SECRET_KEY: z.string().default('minioadmin'),
  S3_REGION: z.string().default('us-east-1'),
  MAX_OBJECT_BYTES: z.coerce.number().int().positive().default(50 * 1024 ** 3),
});

export const packagerEnv = storageEnv.extend({
  PACKAGER_PORT: port(8002),
  DATASET_ROOTS: datasetRoots,
  ORG_DATASET_ROOTS: orgDatasetRoots,
  PACKAGER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
});

export const dispatcherEnv = storageEnv.extend({
  ...publicUrl,
  DISPATCHER_PORT: port(8003),
  DISPATCHER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  PROVIDER_CONCURRENCY: providerConcurrency,
});

/** The poller also prunes storage (abandoned multipart uploads, temporary files) and purges deleted jobs' objects. */
export const pollerEnv = storageEnv.extend({
  ...publicUrl,
  POLLER_PORT: port(8004),
  /** A worker that has not sent a heartbeat for this long is offline and its job is requeued. */
  WORKER_HEARTBEAT_TIMEOUT_MS: ms(30_000),
  MONITOR_INTERVAL_MS: ms(2_000),
  /** The outbox relay runs on every commit's wake-up; this poll is only the safety net for a lost one. */
  OUTBOX_POLL_MS: ms(500),
  RECONCILE_INTERVAL_MS: ms(30_000),
  RECONCILE_STUCK_AFTER_MS: ms(60_000),
  /** Pruning of old outbox rows, webhook deliveries, dead service instances and storage leftovers. */
  PRUNE_INTERVAL_MS: ms(3_600_000),
  /** How often jobs whose consent request timed out are cancelled. */
  CONSENT_EXPIRY_INTERVAL_MS: ms(10_000),
  /** How often runs are checked against maximum runtimes and block limits, and how long a run may carry spend past a block limit before it is stopped. */
  SPEND_GUARD_INTERVAL_MS: ms(10_000),
  COST_LIMIT_GRACE_MS: ms(60_000),
});

export type CommonEnv = z.infer<typeof commonEnv>;
export type GatewayEnv = z.infer<typeof gatewayEnv>;
export type StorageEnv = z.infer<typeof storageEnv>;
export type PackagerEnv = z.infer<typeof packagerEnv>;
export type DispatcherEnv = z.infer<typeof dispatcherEnv>;
export type PollerEnv = z.infer<typeof pollerEnv>;

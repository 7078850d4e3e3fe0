import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, TEST_PG_ADMIN_URL } from './test-db';

// The same launcher `npm start` uses (plain CommonJS so the start script needs no build step).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stack = require('../../../scripts/stack.cjs') as {
  startServices(o: { env: Record<string, string>; logDir?: string; ports?: 'random' | 'fixed'; replicas?: Record<string, number> }): Promise<{
    env: Record<string, string>;
    gatewayUrl: string;
    gatewayUrls: string[];
    procs: Record<string, ChildProcess>;
    instances: Record<string, ServiceInstance[]>;
    stop(): Promise<void>;
  }>;
  ensureWorker(o: { databaseUrl: string; tokenFile: string; name: string; labels: string[] }): Promise<string>;
  startWorker(o: { url: string; tokenFile: string; name: string; labels: string[]; workDir: string; logDir?: string; extraArgs?: string[]; env?: Record<string, string> }): ChildProcess;
  stopAll(procs: ChildProcess[], graceMs?: number): Promise<void>;
  freePort(): Promise<number>;
};
const freePort = (): Promise<number> => stack.freePort();

export { freePort };

export interface ServiceInstance {
  port: number;
  readonly proc: ChildProcess;
  /** Starts it again on the same port with the same environment; resolves once it answers /health. */
  respawn(): Promise<ChildProcess>;
}

export interface TestStack {
  gatewayUrl: string;
  /** the storage service itself (its S3 endpoint is also mounted at the root) */
  storageUrl: string;
  adminKey: string;
  stateDir: string;
  datasetRoot: string;
  databaseUrl: string;
  logDir: string;
  procs: Record<string, ChildProcess>;
  /** Every instance of every service (several with `replicas`): kill one, then `respawn()` it. */
  instances: Record<string, ServiceInstance[]>;
  /** One URL per gateway replica. */
  gatewayUrls: string[];
  queuePrefix: string;
  /** A worker agent (as a process) talking to the first gateway, or to `url`. */
  startWorker(name: string, labels: string[], extraArgs?: string[], opts?: { url?: string }): Promise<ChildProcess>;
  api(path: string, init?: RequestInit & { key?: string }): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * The five services as real processes on a fresh database, a temp state dir and random ports.
 * Needs a build (`npm run build`); `npm test` builds first.
 */
export async function startTestStack(env: Record<string, string> = {}, opts: { replicas?: Record<string, number>; pgAdminUrl?: string; redisUrl?: string } = {}): Promise<TestStack> {
  const db = await createTestDatabase(opts.pgAdminUrl);
  const base = mkdtempSync(join(tmpdir(), 'ct-e2e-'));
  const stateDir = join(base, 'state');
  const datasetRoot = join(base, 'datasets');
  const logDir = join(base, 'logs');
  const queuePrefix = env.QUEUE_PREFIX ?? `ct-e2e-${randomBytes(4).toString('hex')}`;
  mkdirSync(datasetRoot, { recursive: true });
  const services = await stack.startServices({
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: opts.redisUrl ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      SIMPLETUNER_STATE_DIR: stateDir,
      DATASET_ROOTS: datasetRoot,
      LOG_LEVEL: 'info',
      // Stacks (and other test runs) sharing one Redis must not take each other's queue items.
      QUEUE_PREFIX: queuePrefix,
      ...env,
    },
    logDir,
    replicas: opts.replicas ?? {},
  });
  const adminKey = readFileSync(join(stateDir, 'cloud', 'admin-api-key'), 'utf8').trim();
  const workers: ChildProcess[] = [];
  const t: TestStack = {
    gatewayUrl: services.gatewayUrl,
    storageUrl: services.env.STORAGE_URL ?? '',
    adminKey,
    stateDir,
    datasetRoot,
    databaseUrl: db.url,
    logDir,
    procs: services.procs,
    instances: services.instances,
    gatewayUrls: services.gatewayUrls,
    queuePrefix,
    async startWorker(name, labels, extraArgs = [], opts = {}) {
      const tokenFile = await stack.ensureWorker({ databaseUrl: db.url, tokenFile: join(stateDir, 'cloud', `worker-${name}-token`), name, labels });
      const proc = stack.startWorker({ url: opts.url ?? services.gatewayUrl, tokenFile, name, labels, workDir: join(base, `work-${name}`), logDir, extraArgs: ['--log-batch-ms', '200', ...extraArgs] });
      workers.push(proc);
      return proc;
    },
    api(path, init = {}) {
      const { key, headers, ...rest } = init;
      return fetch(`${services.gatewayUrl}${path}`, {
        ...rest,
        headers: { authorization: `Bearer ${key ?? adminKey}`, ...(rest.body ? { 'content-type': 'application/json' } : {}), ...(headers as Record<string, string>) },
      });
    },
    async stop() {
      await stack.stopAll(workers, 3000);
      await services.stop();
      await db.drop();
      if (!process.env.CT_KEEP_E2E) rmSync(base, { recursive: true, force: true });
    },
  };
  return t;
}

export { TEST_PG_ADMIN_URL };

/** Polls `fn` until it returns a truthy value or the time runs out (then throws with the last value). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await fn();
    if (last) return last as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

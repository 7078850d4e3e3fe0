import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Replicate from 'replicate';
import { ReplicateSimulator } from './replicate-simulator';

/** Shared setup of the simulator specs: a simulator, two real `replicate` clients and a webhook receiver. */

export interface ReceivedHook {
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SimHarness {
  sim: ReplicateSimulator;
  /** account `sim-user` */
  replicate: Replicate;
  /** account `other-user`, isolated from the first (clean lists for pagination checks) */
  other: Replicate;
  hookUrl: string;
  /** every webhook request received, raw body kept for signature checks */
  hooks: ReceivedHook[];
  /** statuses the receiver answers with, consumed in order; 200 once empty */
  hookStatuses: number[];
  /** `simpletuner/advanced-trainer-h100:<latest id>`, the form SimpleTuner sends */
  version: string;
  stop(): Promise<void>;
}

export const H100 = 'simpletuner/advanced-trainer-h100';

export async function startSimHarness(): Promise<SimHarness> {
  const sim = new ReplicateSimulator({
    tokens: ['r8_main', { token: 'r8_other', account: { username: 'other-user', name: 'Other' } }],
    // short runs keep the specs fast; webhooks retry quickly for the same reason
    defaults: { queueMs: 100, durationMs: 600, logIntervalMs: 100 },
    pageSize: 3,
    webhooks: { retries: 2, retryDelaysMs: [50], timeoutMs: 2000, throttleMs: 500 },
  });
  const { apiUrl } = await sim.start();
  const replicate = new Replicate({ auth: 'r8_main', baseUrl: apiUrl });
  const other = new Replicate({ auth: 'r8_other', baseUrl: apiUrl });
  const hooks: ReceivedHook[] = [];
  const hookStatuses: number[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(hookStatuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/replicate`;
  const versions = await replicate.models.versions.list('simpletuner', 'advanced-trainer-h100');
  const version = `${H100}:${versions.results[0]?.id ?? ''}`;
  const stop = async (): Promise<void> => {
    await sim.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  };
  return { sim, replicate, other, hookUrl, hooks, hookStatuses, version, stop };
}

/** HTTP status of an ApiError thrown by the client (its body is already consumed; the status is not). */
export const statusOf = (err: unknown): number | undefined => (err as { response?: Response }).response?.status;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `ok` holds or the timeout passes, returning the last value either way. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await sleep(40);
  }
}

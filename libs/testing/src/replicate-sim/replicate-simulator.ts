import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApiRoutes } from './sim-api.routes';
import { SimClock, sleepReal } from './sim-clock.util';
import { buildControlRoutes } from './sim-control.routes';
import { SimFaultInjector, SimRateLimiter } from './sim-fault.injector';
import { SimFileStore } from './sim-file.store';
import { compileRoutePattern, ProblemError, problemReply, writeReply, type SimReply } from './sim-http.util';
import { SimModelCatalog } from './sim-model.catalog';
import { matchRoute, type SimRoute } from './sim-route.table';
import { SimRunEngine } from './sim-run.engine';
import { SimScript } from './sim-script.controller';
import { newWebhookSecret, SimWebhookDispatcher } from './sim-webhook.dispatcher';
import { ALL_WEBHOOK_EVENTS } from './replicate-sim.types';
import type {
  JsonObject, RejectedUploadRecord, ReplicateSimulatorOptions, RequestRecord, SimAccount, SimBehaviour, SimFileRecord, WebhookDeliveryRecord,
} from './replicate-sim.types';

export const DEFAULT_SIM_TOKEN = 'r8_sim_token';
const DEFAULT_ACCOUNT: SimAccount = { type: 'user', username: 'sim-user', name: 'Simulated User', github_url: null };
const UNAUTHENTICATED = new ProblemError(401, 'You did not pass a valid authentication token', 'Unauthenticated');
const CREATE_ROUTE = compileRoutePattern('create');

/**
 * A local stand-in for api.replicate.com (the subset the `replicate` npm client and SimpleTuner use), with
 * scripted faults and full inspection. One instance = one HTTP server on node:http (no framework: the
 * simulator must control sockets directly, e.g. to drop a connection after a create succeeded).
 */
export class ReplicateSimulator {
  readonly script: SimScript;
  private readonly clock: SimClock;
  private readonly behaviour: SimBehaviour;
  private readonly accounts = new Map<string, SimAccount>();
  private readonly secrets = new Map<string, string>();
  private readonly faults = new SimFaultInjector();
  private readonly rateLimiter: SimRateLimiter;
  private readonly webhooks: SimWebhookDispatcher;
  private readonly catalog: SimModelCatalog;
  private readonly files: SimFileStore;
  private readonly engine: SimRunEngine;
  private readonly routes: SimRoute[];
  private readonly log: RequestRecord[] = [];
  private readonly dataDir: string;
  private readonly ownsDataDir: boolean;
  private server: http.Server | null = null;
  private origin: string | null = null;

  constructor(private readonly opts: ReplicateSimulatorOptions = {}) {
    this.clock = new SimClock(opts.speed ?? 1);
    this.behaviour = {
      queueMs: 1000, durationMs: 10_000, logIntervalMs: 1000, failMessage: null, defaultWebhookEvents: [...ALL_WEBHOOK_EVENTS],
      ...opts.defaults,
    };
    for (const t of opts.tokens ?? [DEFAULT_SIM_TOKEN]) {
      if (typeof t === 'string') this.accounts.set(t, DEFAULT_ACCOUNT);
      else this.accounts.set(t.token, { ...DEFAULT_ACCOUNT, ...t.account });
    }
    this.ownsDataDir = !opts.dataDir;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'replicate-sim-'));
    mkdirSync(this.dataDir, { recursive: true });
    const say = opts.log ?? ((): void => undefined);
    this.rateLimiter = new SimRateLimiter(opts.rateLimit ?? { createPerMinute: 600, otherPerMinute: 3000 });
    this.webhooks = new SimWebhookDispatcher({ retries: 3, retryDelaysMs: [1000, 5000, 30_000], timeoutMs: 5000, throttleMs: 500, ...opts.webhooks });
    this.catalog = new SimModelCatalog(() => this.clock.now());
    this.files = new SimFileStore(this.dataDir, this.clock, opts.maxFileBytes ?? 100_000_000, say);
    const origin = (): string => this.url;
    const secretFor = (owner: string): string => this.webhookSecret(owner);
    this.engine = new SimRunEngine({
      clock: this.clock, catalog: this.catalog, files: this.files, webhooks: this.webhooks, origin, secretFor,
      behaviour: () => this.behaviour, throttleMs: () => opts.webhooks?.throttleMs ?? 500,
    });
    this.script = new SimScript({ faults: this.faults, rateLimiter: this.rateLimiter, webhooks: this.webhooks, clock: this.clock, engine: this.engine, behaviour: this.behaviour });
    this.routes = [
      ...buildApiRoutes({ engine: this.engine, files: this.files, catalog: this.catalog, origin, secretFor, pageSize: () => opts.pageSize ?? 100 }),
      ...buildControlRoutes(this),
    ];
  }

  /** Origin such as `http://127.0.0.1:8780`; the client's `baseUrl` is `apiUrl` (origin + `/v1`). */
  get url(): string {
    if (!this.origin) throw new Error('ReplicateSimulator is not started');
    return this.origin;
  }

  get apiUrl(): string {
    return `${this.url}/v1`;
  }

  /** The first configured token (default `r8_sim_token`). */
  get token(): string {
    return this.accounts.keys().next().value ?? DEFAULT_SIM_TOKEN;
  }

  async start(): Promise<{ url: string; apiUrl: string; port: number }> {
    if (this.server) throw new Error('already started');
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    const { port, address } = server.address() as AddressInfo;
    this.origin = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    return { url: this.origin, apiUrl: `${this.origin}/v1`, port };
  }

  async stop(): Promise<void> {
    this.engine.clear();
    this.webhooks.stop();
    this.clock.dispose();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The `whsec_...` signing secret of an account (what `GET /v1/webhooks/default/secret` returns). */
  webhookSecret(username = this.accounts.values().next().value?.username ?? DEFAULT_ACCOUNT.username): string {
    let s = this.secrets.get(username);
    if (!s) {
      s = this.opts.webhookSecret ?? newWebhookSecret();
      this.secrets.set(username, s);
    }
    return s;
  }

  /** What an account holder does on replicate.com: a new signing secret; deliveries are signed with it from now on. */
  rotateWebhookSecret(username = this.accounts.values().next().value?.username ?? DEFAULT_ACCOUNT.username): string {
    const s = newWebhookSecret();
    this.secrets.set(username, s);
    return s;
  }

  // ---- inspection -------------------------------------------------------------------------------------

  requests(): RequestRecord[] {
    return this.log.map((r) => ({ ...r }));
  }

  /** Counters per route template, e.g. `{"POST /v1/predictions": 2, "GET /v1/predictions/:id": 9}`. */
  requestCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.log) counts[r.route] = (counts[r.route] ?? 0) + 1;
    return counts;
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  /** Every uploaded file, deleted ones included (`deletedAtMs` set). */
  uploadedFiles(): SimFileRecord[] {
    return this.files.all().map((f) => ({ ...f }));
  }

  rejectedUploads(): RejectedUploadRecord[] {
    return [...this.files.rejected];
  }

  /** Every prediction and training of every account, oldest first, as GET would return them (+ `kind`, `owner`). */
  predictions(): JsonObject[] {
    return this.engine.all().map((r) => ({ ...this.engine.toWire(r), kind: r.kind, owner: r.owner }));
  }

  webhookDeliveries(): WebhookDeliveryRecord[] {
    return this.webhooks.deliveries.map((d) => ({ ...d, attempts: [...d.attempts] }));
  }

  /** Resolves when no webhook delivery (including retries) is pending. */
  waitForWebhooks(): Promise<void> {
    return this.webhooks.idle();
  }

  behaviourDefaults(): SimBehaviour {
    return { ...this.behaviour, defaultWebhookEvents: [...this.behaviour.defaultWebhookEvents] };
  }

  pendingFaults(): ReturnType<SimFaultInjector['pending']> {
    return this.faults.pending();
  }

  clockSpeed(): number {
    return this.clock.getSpeed();
  }

  /** Forgets every run, file, request, delivery and fault, and re-seeds the model catalog. */
  reset(): void {
    this.engine.clear();
    this.files.clear();
    this.webhooks.clear();
    this.webhooks.loseWebhooks(null);
    this.faults.clear();
    this.catalog.seed();
    this.log.length = 0;
  }

  // ---- HTTP --------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(this.routes, method, url.pathname);
    const isControl = url.pathname.startsWith('/_sim/');
    const record: RequestRecord = {
      seq: this.log.length + 1, method, path: url.pathname, route: match.route ? `${method} ${match.route.template}` : 'unmatched',
      at: new Date().toISOString(), status: null, fault: null, account: null,
    };
    if (!isControl) this.log.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    const key = `${method} ${url.pathname}`;
    let extraHeaders: Record<string, string> = {};
    let reply: SimReply;
    try {
      if (!match.route) throw match.methodMismatch ? new ProblemError(405, 'Method not allowed', 'Method Not Allowed') : new ProblemError(404, 'The requested resource could not be found.');
      const isApi = url.pathname.startsWith('/v1/');
      if (isApi) {
        const decision = this.faults.before(key);
        if (decision.kind === 'drop') {
          record.fault = 'drop-before';
          req.socket.destroy();
          return;
        }
        if (decision.kind === 'status') {
          record.fault = 'status';
          throw decision.error;
        }
        if (decision.kind === 'delay') {
          record.fault = 'delay';
          await sleepReal(decision.ms);
        }
      }
      let account = DEFAULT_ACCOUNT;
      if (match.route.auth && isApi) {
        account = this.authenticate(req.headers.authorization);
        record.account = account.username;
        extraHeaders = this.rateLimiter.take(account.username, CREATE_ROUTE.test(key));
      }
      reply = await match.route.handler({ req, url, params: match.params, account });
      const hold = isApi && reply.status < 400 ? this.faults.holdAfter(key) : 0;
      if (hold > 0) {
        record.fault = 'hold-after';
        await sleepReal(hold);
      }
      if (isApi && reply.status < 400 && this.faults.dropAfter(key)) {
        record.fault = 'drop-after';
        record.status = reply.status;
        req.socket.destroy();
        return;
      }
    } catch (err) {
      reply = err instanceof ProblemError ? problemReply(err) : problemReply(new ProblemError(500, `Simulator error: ${String(err)}`, 'Internal Server Error'));
    }
    if (res.destroyed) return;
    writeReply(res, reply, extraHeaders);
  }

  private authenticate(header: string | undefined): SimAccount {
    const m = /^(Bearer|Token)\s+(\S+)$/i.exec(header ?? '');
    const account = m ? this.accounts.get(m[2]!) : undefined;
    if (!account) throw UNAUTHENTICATED;
    return account;
  }

  /** Used by the control routes: checks the optional admin token. */
  checkAdmin(req: IncomingMessage): void {
    const want = this.opts.adminToken;
    if (!want) return;
    const got = req.headers['x-sim-admin-token'] ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (got !== want) throw new ProblemError(401, 'Missing or wrong x-sim-admin-token', 'Unauthenticated');
  }

  /** Used by the control routes. */
  runWire(id: string): JsonObject {
    const run = this.engine.all().find((r) => r.id === id);
    if (!run) throw new ProblemError(404, 'The requested resource could not be found.');
    return this.engine.toWire(run);
  }
}

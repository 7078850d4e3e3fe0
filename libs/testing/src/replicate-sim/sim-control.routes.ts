import { z } from 'zod';
import { ProblemError, readJsonBody, type SimReply } from './sim-http.util';
import { route, type RouteContext, type SimRoute } from './sim-route.table';
import type { ReplicateSimulator } from './replicate-simulator';
import type { FaultSpec, JsonValue } from './replicate-sim.types';

const events = z.array(z.enum(['start', 'output', 'logs', 'completed']));
const routeField = z.string().optional();
const faultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('status'), status: z.number().int().min(400).max(599), count: z.number().int().positive().default(1), route: routeField, retryAfterS: z.number().int().nonnegative().optional(), detail: z.string().optional() }),
  z.object({ kind: z.literal('drop'), count: z.number().int().positive().default(1), route: routeField, when: z.enum(['before', 'after']).optional() }),
  z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative(), count: z.number().int().positive().default(1), route: routeField }),
]);
const defaultsSchema = z.object({
  queueMs: z.number().nonnegative(), durationMs: z.number().nonnegative(), logIntervalMs: z.number().positive(),
  failMessage: z.string().nullable(), defaultWebhookEvents: events,
}).partial();
const loseSchema = z.object({ fraction: z.number().min(0).max(1).default(1), seed: z.number().int().optional(), events: events.optional() });
const clockSchema = z.object({ speed: z.number().positive() });
const rateSchema = z.union([z.object({ createPerMinute: z.number().positive(), otherPerMinute: z.number().positive() }), z.object({ enabled: z.literal(false) })]);
const finishSchema = z.object({ status: z.enum(['succeeded', 'failed', 'aborted']), error: z.string().optional() });
const webhookOptsSchema = z.object({ retries: z.number().int().nonnegative(), retryDelaysMs: z.array(z.number().nonnegative()).min(1), timeoutMs: z.number().positive(), throttleMs: z.number().nonnegative() }).partial();

async function parse<T>(ctx: RouteContext, schema: z.ZodType<T>): Promise<T> {
  const result = schema.safeParse(await readJsonBody(ctx.req));
  if (!result.success) {
    throw new ProblemError(422, result.error.issues.map((i) => `- ${i.path.join('.') || 'body'}: ${i.message}`).join('\n'), 'Input validation failed');
  }
  return result.data;
}

/** JSON round-trip: inspection records are plain data but typed as interfaces, not as JsonValue. */
const json = (v: unknown): JsonValue => JSON.parse(JSON.stringify(v)) as JsonValue;
const ok = (v: unknown, status = 200): SimReply => ({ status, body: json(v) });

/**
 * `/_sim/*`: scripting and inspection over HTTP for the standalone simulator (`scripts/replicate-sim.mjs`).
 * No Replicate auth; when the simulator has an `adminToken`, `x-sim-admin-token` must carry it.
 */
export function buildControlRoutes(sim: ReplicateSimulator): SimRoute[] {
  const admin = (handler: SimRoute['handler']): SimRoute['handler'] => async (ctx) => {
    sim.checkAdmin(ctx.req);
    return handler(ctx);
  };
  const r = (method: string, template: string, handler: SimRoute['handler']): SimRoute => route(method, template, admin(handler), { auth: false });
  return [
    r('GET', '/_sim/state', async () => ok({
      url: sim.url, apiUrl: sim.apiUrl, token: sim.token, speed: sim.clockSpeed(), defaults: sim.behaviourDefaults(), faults: sim.pendingFaults(),
      counts: sim.requestCounts(), predictions: sim.predictions().length, files: sim.uploadedFiles().length,
      webhooks: sim.webhookDeliveries().length,
    })),
    r('GET', '/_sim/requests', async () => ok(sim.requests())),
    r('GET', '/_sim/requests/counts', async () => ok(sim.requestCounts())),
    r('DELETE', '/_sim/requests', async () => {
      sim.clearRequests();
      return { status: 204 };
    }),
    r('GET', '/_sim/files', async () => ok({ files: sim.uploadedFiles(), rejected: sim.rejectedUploads() })),
    r('GET', '/_sim/predictions', async () => ok(sim.predictions())),
    r('POST', '/_sim/predictions/:id/finish', async (ctx) => {
      const body = await parse(ctx, finishSchema);
      const id = ctx.params[0] ?? '';
      sim.script.finishRun(id, body.status, body.error);
      return ok(sim.runWire(id));
    }),
    r('GET', '/_sim/webhooks', async () => ok(sim.webhookDeliveries())),
    r('GET', '/_sim/webhooks/secret', async () => ok({ key: sim.webhookSecret() })),
    r('POST', '/_sim/webhooks/lose', async (ctx) => {
      const b = await parse(ctx, loseSchema);
      sim.script.loseWebhooks(b.fraction, b.seed, b.events);
      return { status: 204 };
    }),
    r('DELETE', '/_sim/webhooks/lose', async () => {
      sim.script.keepWebhooks();
      return { status: 204 };
    }),
    r('POST', '/_sim/webhooks/options', async (ctx) => {
      const b = await parse(ctx, webhookOptsSchema);
      sim.script.webhookDelivery(b);
      return { status: 204 };
    }),
    r('GET', '/_sim/faults', async () => ok(sim.pendingFaults())),
    r('POST', '/_sim/faults', async (ctx) => {
      const spec: FaultSpec = await parse(ctx, faultSchema);
      sim.script.fault(spec);
      return ok(sim.pendingFaults(), 201);
    }),
    r('DELETE', '/_sim/faults', async () => {
      sim.script.clearFaults();
      return { status: 204 };
    }),
    r('POST', '/_sim/defaults', async (ctx) => {
      sim.script.setDefaults(await parse(ctx, defaultsSchema));
      return ok(sim.behaviourDefaults());
    }),
    r('POST', '/_sim/clock', async (ctx) => {
      sim.script.setSpeed((await parse(ctx, clockSchema)).speed);
      return ok({ speed: sim.clockSpeed() });
    }),
    r('POST', '/_sim/rate-limit', async (ctx) => {
      const b = await parse(ctx, rateSchema);
      sim.script.setRateLimit('enabled' in b ? false : b);
      return { status: 204 };
    }),
    r('POST', '/_sim/reset', async () => {
      sim.reset();
      return { status: 204 };
    }),
  ];
}

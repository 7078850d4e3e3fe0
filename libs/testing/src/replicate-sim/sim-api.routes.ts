import { Readable } from 'node:stream';
import { fileObject, type SimFileStore } from './sim-file.store';
import { sleepReal } from './sim-clock.util';
import { notFound, paginate, ProblemError, readJsonBody, type SimReply } from './sim-http.util';
import { modelObject, type SimModelCatalog } from './sim-model.catalog';
import { isTerminal, type SimRun, type SimRunEngine } from './sim-run.engine';
import { route, type RouteContext, type SimRoute } from './sim-route.table';
import type { JsonObject, JsonValue } from './replicate-sim.types';

export interface ApiDeps {
  engine: SimRunEngine;
  files: SimFileStore;
  catalog: SimModelCatalog;
  origin: () => string;
  pageSize: () => number;
  secretFor: (owner: string) => string;
}

const HARDWARE: JsonObject[] = [
  ['cpu', 'CPU'], ['gpu-t4', 'Nvidia T4 GPU'], ['gpu-l40s', 'Nvidia L40S GPU'], ['gpu-2x-l40s', '2x Nvidia L40S GPU'],
  ['gpu-4x-l40s', '4x Nvidia L40S GPU'], ['gpu-8x-l40s', '8x Nvidia L40S GPU'], ['gpu-a100-large', 'Nvidia A100 (80GB) GPU'],
  ['gpu-h100', 'Nvidia H100 GPU'], ['gpu-h100-2x', '2x Nvidia H100 GPU'], ['gpu-h100-4x', '4x Nvidia H100 GPU'], ['gpu-h100-8x', '8x Nvidia H100 GPU'],
].map(([sku, name]) => ({ sku: sku!, name: name! }));

const ok = (body: JsonValue, status = 200): SimReply => ({ status, body });
const pageReply = <T>(items: T[], seq: (t: T) => number, toWire: (t: T) => JsonValue, ctx: RouteContext, size: number): SimReply => {
  const page = paginate(items, seq, ctx.url, size);
  return ok({ next: page.next, previous: page.previous, results: page.results.map(toWire) });
};

/** The `/v1` surface the `replicate` npm client (and SimpleTuner's httpx client) talks to. */
export function buildApiRoutes(d: ApiDeps): SimRoute[] {
  const p = (ctx: RouteContext, i: number): string => ctx.params[i] ?? '';
  const runWire = (r: SimRun): JsonValue => d.engine.toWire(r);

  /** Shared by the three create routes: `Prefer: wait[=n]` holds the answer until terminal or n seconds (max 60). */
  const created = async (ctx: RouteContext, run: SimRun): Promise<SimReply> => {
    const prefer = /^wait(?:=(\d+))?$/.exec(String(ctx.req.headers.prefer ?? '').trim());
    if (prefer) {
      const seconds = Math.min(60, Number(prefer[1] ?? 60));
      const timeout = new AbortController();
      await Promise.race([run.done, sleepReal(seconds * 1000, timeout.signal)]);
      timeout.abort();
      return ok(d.engine.toWire(run), isTerminal(run.status) ? 201 : 202);
    }
    return ok(d.engine.toWire(run, { atCreate: true }), 201);
  };

  const createPrediction = async (ctx: RouteContext, modelRef: string | null): Promise<SimReply> => {
    const body = await readJsonBody(ctx.req);
    const ref = modelRef ?? (typeof body.version === 'string' ? body.version : null);
    if (!ref) throw new ProblemError(422, '- version: version is required\n', 'Input validation failed', { invalid_fields: [{ type: 'required', field: 'version', description: 'version is required' }] });
    const { model, version } = d.catalog.resolve(ref);
    const run = d.engine.create({ kind: 'prediction', owner: ctx.account.username, model, version: version.id, destination: null, body });
    return created(ctx, run);
  };

  return [
    route('GET', '/v1/account', async (ctx) => ok({ ...ctx.account })),
    route('GET', '/v1/webhooks/default/secret', async (ctx) => ok({ key: d.secretFor(ctx.account.username) })),
    route('GET', '/v1/hardware', async () => ok(HARDWARE)),

    // Files
    route('POST', '/v1/files', async (ctx) => ok(fileObject(await d.files.upload(ctx.req, ctx.account.username), `${d.origin()}/v1`), 201)),
    route('GET', '/v1/files', async (ctx) => pageReply(d.files.list(ctx.account.username), (f) => d.files.seqOf(f), (f) => fileObject(f, `${d.origin()}/v1`), ctx, d.pageSize())),
    route('GET', '/v1/files/:id', async (ctx) => ok(fileObject(d.files.get(p(ctx, 0), ctx.account.username), `${d.origin()}/v1`))),
    route('DELETE', '/v1/files/:id', async (ctx) => {
      await d.files.delete(p(ctx, 0), ctx.account.username);
      return { status: 204 };
    }),
    // no presigned `owner/expiry/signature` query here: a Bearer token is enough (see docs)
    route('GET', '/v1/files/:id/download', async (ctx) => d.files.download(p(ctx, 0), ctx.account.username)),

    // Models and versions
    route('GET', '/v1/models', async (ctx) => {
      const all = d.catalog.all().filter((m) => m.visibility === 'public' || m.owner === ctx.account.username);
      return pageReply(all, (m) => all.length - all.indexOf(m), (m) => modelObject(m, d.origin()), ctx, d.pageSize());
    }),
    route('POST', '/v1/models', async (ctx) => ok(modelObject(d.catalog.create(ctx.account.username, await readJsonBody(ctx.req)), d.origin()), 201)),
    route('GET', '/v1/models/:owner/:name', async (ctx) => ok(modelObject(d.catalog.get(p(ctx, 0), p(ctx, 1)), d.origin()))),
    route('GET', '/v1/models/:owner/:name/versions', async (ctx) => {
      const versions = d.catalog.get(p(ctx, 0), p(ctx, 1)).versions;
      return pageReply(versions, (v) => versions.length - versions.indexOf(v), (v) => ({ ...v }), ctx, d.pageSize());
    }),
    route('GET', '/v1/models/:owner/:name/versions/:id', async (ctx) => {
      const m = d.catalog.get(p(ctx, 0), p(ctx, 1));
      return ok({ ...d.catalog.version(m, p(ctx, 2)) });
    }),
    route('POST', '/v1/models/:owner/:name/predictions', async (ctx) => createPrediction(ctx, `${p(ctx, 0)}/${p(ctx, 1)}`)),

    // Predictions
    route('POST', '/v1/predictions', async (ctx) => createPrediction(ctx, null)),
    route('GET', '/v1/predictions', async (ctx) => {
      const after = Date.parse(ctx.url.searchParams.get('created_after') ?? '');
      const before = Date.parse(ctx.url.searchParams.get('created_before') ?? '');
      const runs = d.engine.list(ctx.account.username, 'prediction')
        .filter((r) => (Number.isNaN(after) || r.createdAtMs > after) && (Number.isNaN(before) || r.createdAtMs < before));
      return pageReply(runs, (r) => r.seq, runWire, ctx, d.pageSize());
    }),
    route('GET', '/v1/predictions/:id', async (ctx) => ok(runWire(d.engine.get(p(ctx, 0), ctx.account.username)))),
    route('POST', '/v1/predictions/:id/cancel', async (ctx) => {
      await readJsonBody(ctx.req);
      const run = d.engine.get(p(ctx, 0), ctx.account.username);
      d.engine.cancel(run);
      return ok(runWire(run));
    }),

    // Trainings
    route('POST', '/v1/models/:owner/:name/versions/:id/trainings', async (ctx) => {
      const body = await readJsonBody(ctx.req);
      const model = d.catalog.find(p(ctx, 0), p(ctx, 1));
      const version = model?.versions.find((v) => v.id === p(ctx, 2));
      if (!model || !version) throw new ProblemError(422, "The specified version does not exist (or perhaps you don't have permission to use it?)", 'Invalid version or not permitted');
      if (!model.trainable) throw new ProblemError(400, `${model.owner}/${model.name} does not support training`, 'Bad Request');
      const dest = typeof body.destination === 'string' ? body.destination : '';
      const [dOwner, dName] = dest.split('/');
      if (!d.catalog.find(dOwner ?? '', dName ?? '') || dOwner !== ctx.account.username) {
        throw new ProblemError(404, 'The specified training destination does not exist');
      }
      const run = d.engine.create({ kind: 'training', owner: ctx.account.username, model, version: version.id, destination: dest, body });
      return created(ctx, run);
    }),
    route('GET', '/v1/trainings', async (ctx) => pageReply(d.engine.list(ctx.account.username, 'training'), (r) => r.seq, runWire, ctx, d.pageSize())),
    route('GET', '/v1/trainings/:id', async (ctx) => ok(runWire(d.engine.get(p(ctx, 0), ctx.account.username, 'training')))),
    route('POST', '/v1/trainings/:id/cancel', async (ctx) => {
      await readJsonBody(ctx.req);
      const run = d.engine.get(p(ctx, 0), ctx.account.username, 'training');
      d.engine.cancel(run);
      return ok(runWire(run));
    }),

    // Output delivery (replicate.delivery in real life): unauthenticated, like the real CDN URLs
    route('GET', '/delivery/:id/weights.tar', async (ctx) => {
      const run = d.engine.all().find((r) => r.id === p(ctx, 0) && r.status === 'succeeded');
      if (!run) throw notFound();
      const bytes = Buffer.from(`simulated weights for ${run.id}\n`.padEnd(1024, '.'));
      return { status: 200, stream: Readable.from([bytes]), headers: { 'content-type': 'application/x-tar', 'content-length': String(bytes.length) } };
    }, { auth: false }),
  ];
}

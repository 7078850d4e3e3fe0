import http from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { OpenAPIV3 } from 'openapi-types';
import { ReplicateSimulator, startTestStack, type TestStack } from '@ct/testing';
import { baseCase, boundaryCases, caseArbitrary, routesOf, type Case, type Fixtures, type Route } from './fuzz-cases';
import { json, submit } from './helpers';

/**
 * Every operation of the OpenAPI document, fed malformed bodies, queries, path parameters and headers,
 * with the route's credential and without. Nothing may answer 5xx, leak a stack trace or a path of the
 * installation, or answer an error other than problem+json with a code the document lists; the gateway
 * must be healthy afterwards. Seeded: the same cases every run. The S3 endpoint (`/api/cloud/storage/*`)
 * answers in S3's XML and has its own tests; it is not in the document.
 */
jest.setTimeout(170_000);

const SEED = 20_240_611;
const RUNS_PER_ROUTE = 100;
const MAX_BODY_BYTES = 1_048_576;
const FIXED_UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** One request with exactly these bytes (fetch would normalise `..` and refuse some headers); SSE answers end after their headers. */
function send(base: URL, method: string, path: string, headers: Record<string, string | number>, body?: string | Buffer, opts: { timeoutMs?: number; writeLength?: number } = {}): Promise<Answer | 'no answer'> {
  // Node only frames a body of a GET or DELETE when told its length; without it the body bytes would read as a second, broken request.
  const length = body !== undefined && headers['content-length'] === undefined ? { 'content-length': Buffer.byteLength(body) } : {};
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, method: method.toUpperCase(), path, headers: { connection: 'close', ...length, ...headers }, agent: false }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, type, body: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => {
      req.destroy();
      resolve('no answer');
    });
    req.on('error', (err: NodeJS.ErrnoException) => (['ECONNRESET', 'EPIPE'].includes(err.code ?? '') ? resolve('no answer') : reject(err)));
    if (body !== undefined) req.write(opts.writeLength === undefined ? body : Buffer.from(body).subarray(0, opts.writeLength));
    // A Content-Length lie that promised more: the socket stays open until the server gives up or we do.
    if (opts.writeLength === undefined) req.end();
  });
}

/** The codes the document lists for a status of the operation (in each response's description). */
function documentedCodes(op: OpenAPIV3.OperationObject, status: number): Set<string> {
  const described = Object.entries(op.responses).filter(([s]) => s === String(status)).map(([, r]) => (r as OpenAPIV3.ResponseObject).description);
  return new Set(described.flatMap((d) => [...d.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!)));
}

const STACK_TRACE = /\n\s+at .+[:(]\d+|\bat [\w.<>]+ \(.+:\d+:\d+\)/;
const INSTALL_PATH = new RegExp(`${process.cwd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|node_modules|dist/main\\.js|\\.ts:\\d+`);

/** What is wrong with an answer; empty when it is acceptable. */
function verdict(route: Route, a: Answer): string[] {
  const wrong: string[] = [];
  if (a.status >= 500) wrong.push(`answered ${a.status}`);
  if (STACK_TRACE.test(a.body)) wrong.push('a stack trace in the body');
  if (INSTALL_PATH.test(a.body)) wrong.push('a path of the installation in the body');
  if (a.status < 400) return wrong;
  if (/json/.test(a.type)) {
    if (!a.type.startsWith('application/problem+json')) return [...wrong, `an error as ${a.type}, not problem+json`];
    const p = JSON.parse(a.body) as { code?: unknown; status?: unknown; type?: unknown };
    if (typeof p.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(p.code)) return [...wrong, `no stable code: ${a.body.slice(0, 200)}`];
    if (p.status !== a.status || p.type !== `urn:ct:error:${p.code}`) wrong.push(`status or type disagree: ${a.body.slice(0, 200)}`);
    // Before routing (an unknown path) the error cannot be the operation's; everything else must be in the document.
    if (p.code !== 'route_not_found' && !documentedCodes(route.op, a.status).has(p.code)) wrong.push(`${a.status} ${p.code} is not in the document`);
  } else if (a.body.length > 0 && !(route.path === '/metrics' && a.type.startsWith('text/plain'))) {
    wrong.push(`an error as ${a.type || 'no content type'}: ${a.body.slice(0, 120)}`);
  }
  return wrong;
}

function urlOf(route: Route, c: Case): string {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => c.path[name] ?? '');
  return c.query ? `${path}?${c.query}` : path;
}

describe('fuzzing every operation of the OpenAPI document', () => {
  let t: TestStack;
  let sim: ReplicateSimulator;
  let doc: OpenAPIV3.Document;
  let routes: Route[];
  let fixtures: Fixtures;
  let base: URL;
  beforeAll(async () => {
    sim = new ReplicateSimulator({ defaults: { queueMs: 200, durationMs: 1_000, logIntervalMs: 250 } });
    const { apiUrl } = await sim.start();
    // A worker's claim must not hold a fuzz case for 20 s; the provider's API is the simulator.
    t = await startTestStack({ WORKER_CLAIM_MAX_WAIT_MS: '50', REPLICATE_API_BASE_URL: apiUrl });
    base = new URL(t.gatewayUrl);
    doc = await json<OpenAPIV3.Document>(await fetch(`${t.gatewayUrl}/api/docs-json`));
    routes = routesOf(doc);
    expect((await t.api('/api/cloud/providers/replicate/config', { method: 'PUT', body: JSON.stringify({ token: sim.token }) })).status).toBe(200);
    const worker = await json<{ worker: { id: string }; token: string }>(await t.api('/api/admin/workers', { method: 'POST', body: JSON.stringify({ name: 'fuzz' }) }));
    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['nobody'] }, config: {} });
    const replicateJob = await submit(t, { provider: 'replicate', config: {} });
    fixtures = {
      credential: (r) => (r.auth === 'api_key' ? t.adminKey : r.auth === 'worker_token' ? worker.token : null),
      // Reads get real ids (the handler gets to work); writes get unknown ones, so the fixtures survive the run.
      pathValue: (r, name) => (name === 'name' || name === 'provider' ? 'replicate' : r.method !== 'get' ? FIXED_UNKNOWN_ID : r.path.includes('/workers') ? worker.worker.id : String(job.id)),
      baseQuery: (r) => (r.path === '/api/workers/claim' ? 'waitMs=0' : r.path.startsWith('/api/webhooks') ? `job=${String(replicateJob.id)}` : ''),
    };
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.stop();
  });

  async function run(route: Route, c: Case, opts?: { timeoutMs?: number; writeLength?: number; contentLength?: number; mayHang?: true }): Promise<string[]> {
    const credential = fixtures.credential(route);
    const headers: Record<string, string | number> = { ...(c.withCredential && credential ? { authorization: `Bearer ${credential}` } : {}), ...c.headers };
    if (opts?.contentLength !== undefined) headers['content-length'] = opts.contentLength;
    const answer = await send(base, route.method, urlOf(route, c), headers, c.body, opts);
    const where = `${route.method.toUpperCase()} ${route.path} [${c.label}${c.withCredential && credential ? '' : ', no credential'}]`;
    // A body that promised more than it sent may only time out; anything else must be answered.
    if (answer === 'no answer') return opts?.mayHang ? [] : [`${where}: no answer`];
    return verdict(route, answer).map((w) => `${where} → ${answer.status}: ${w}`);
  }

  it('answers boundary values in every field, parameter and header with a 4xx problem, never a 5xx', async () => {
    const failures: string[] = [];
    for (const route of routes) {
      for (const c of boundaryCases(doc, route, fixtures)) {
        failures.push(...(await run(route, c)));
        if (route.auth !== 'none') failures.push(...(await run(route, { ...c, withCredential: false })));
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers every malformed request with a 4xx problem, never a 5xx', async () => {
    const failures: string[] = [];
    for (const [i, route] of routes.entries()) {
      const cases = fc.sample(caseArbitrary(doc, route, fixtures), { seed: SEED + i, numRuns: RUNS_PER_ROUTE });
      for (const c of [baseCase(doc, route, fixtures), ...cases]) {
        failures.push(...(await run(route, c)));
        if (c.withCredential && route.auth !== 'none') failures.push(...(await run(route, { ...c, withCredential: false })));
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses oversized and lying bodies on every operation', async () => {
    const failures: string[] = [];
    const huge = JSON.stringify({ config: { blob: 'x'.repeat(MAX_BODY_BYTES + 10) } });
    const bomb = gzipSync(Buffer.from(JSON.stringify({ a: ' '.repeat(8 * MAX_BODY_BYTES) })));
    const promisesMore: Array<Promise<string[]>> = [];
    for (const route of routes) {
      const c = baseCase(doc, route, fixtures);
      const body = c.body ?? '{}';
      const length = Buffer.byteLength(body);
      const headers = { ...c.headers, 'content-type': 'application/json' };
      failures.push(...(await run(route, { ...c, label: 'oversized', headers, body: huge })));
      failures.push(...(await run(route, { ...c, label: 'gzip bomb', headers: { ...headers, 'content-encoding': 'gzip' }, body: bomb })));
      failures.push(...(await run(route, { ...c, label: 'Content-Length shorter than the body', headers, body: `${body}      ` }, { contentLength: Math.max(1, length - 1) })));
      // The server waits for bytes that never come; these run side by side, each until we give up on it.
      promisesMore.push(run(route, { ...c, label: 'Content-Length promises more than is sent', headers, body }, { contentLength: length + 50, writeLength: length, timeoutMs: 1_500, mayHang: true }));
      promisesMore.push(run(route, { ...c, label: 'Content-Length says 100 GB', headers, body }, { contentLength: 100 * 2 ** 30, writeLength: length, timeoutMs: 1_500 }));
    }
    for (const f of await Promise.all(promisesMore)) failures.push(...f);
    expect(failures).toEqual([]);
  });

  /** What the fuzzer found answering 5xx (or an undocumented code), fixed in the gateway; each must stay a 4xx problem. */
  it('keeps what it found as regressions', async () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const job = `/api/cloud/jobs/${FIXED_UNKNOWN_ID}`;
    type Regression = { req: string; body?: string; headers?: Record<string, string>; worker?: true; answer: string };
    const cases: Regression[] = [
      { req: 'POST /api/cloud/jobs', headers: { 'content-encoding': 'gzip' }, body: 'not compressed at all', answer: '400 bad_request' },
      { req: 'POST /api/cloud/jobs', headers: { 'content-encoding': 'foo' }, body: '{"config":{}}', answer: '415 unsupported_media_type' },
      { req: 'GET /api/cloud/jobs', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}', answer: '415 unsupported_media_type' },
      { req: 'POST /api/cloud/jobs', body: '{"config":{"k":"\\ud800"}}', answer: '400 validation_failed' },
      { req: 'POST /api/cloud/jobs/submit', body: '{"config":{"\\udfff":1}}', answer: '400 validation_failed' },
      { req: 'POST /api/workers/register', worker: true, body: '{"gpus":[{"name":"\\ud800","memoryMiB":1}]}', answer: '400 validation_failed' },
      { req: 'POST /api/workers/heartbeat', worker: true, body: `{"jobId":"${FIXED_UNKNOWN_ID}","fence":2147483648}`, answer: '400 validation_failed' },
      { req: `POST /api/workers/jobs/${FIXED_UNKNOWN_ID}/report`, worker: true, body: '{"fence":1,"kind":"failed","exitCode":9007199254740991}', answer: '400 validation_failed' },
      { req: `GET ${job}/logs?after=%C3%BC`, answer: '400 validation_failed' },
      { req: `GET ${job}/logs`, headers: { 'last-event-id': 'abc' }, answer: '400 validation_failed' },
      { req: 'GET /api/cloud/jobs/%E0%A4%A', answer: '400 bad_request' },
      // Found while writing the fuzzer rather than by it: cursors are opaque, and random bytes never decode to one.
      { req: `GET /api/cloud/jobs?cursor=${cursor('2020-01-01T00:00:00.000Z|a\u0000b')}`, answer: '400 validation_failed' },
      { req: `GET /api/cloud/jobs?cursor=${cursor('-200000-01-01T00:00:00.000Z|abc')}`, answer: '400 validation_failed' },
    ];
    const worker = routes.find((r) => r.auth === 'worker_token')!;
    for (const c of cases) {
      const [method, path] = c.req.split(' ') as [string, string];
      const key = c.worker ? fixtures.credential(worker) : t.adminKey;
      const a = await send(base, method, path, { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...c.headers }, c.body);
      expect(`${c.req} → ${a === 'no answer' ? a : `${a.status} ${(JSON.parse(a.body) as { code: string }).code}`}`).toBe(`${c.req} → ${c.answer}`);
    }
    // A body declared far over the limit is refused at once, not after waiting for bytes that never come.
    const lie = await send(base, 'POST', '/api/cloud/jobs', { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'content-length': 100 * 2 ** 30 }, '{"config":{}}', { writeLength: 13, timeoutMs: 3_000 });
    expect(lie === 'no answer' ? lie : lie.status).toBe(413);
  });

  it('is still healthy and serving afterwards', async () => {
    expect(t.procs['api-gateway']?.exitCode).toBeNull();
    expect((await fetch(`${t.gatewayUrl}/health/ready`)).status).toBe(200);
    expect((await t.api('/api/cloud/jobs?limit=1')).status).toBe(200);
  });
});

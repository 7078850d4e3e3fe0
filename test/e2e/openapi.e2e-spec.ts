import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import type { OpenAPIV3 } from 'openapi-types';
import ts from 'typescript';
import { startTestStack, type TestStack } from '@ct/testing';
import { json, submit } from './helpers';

jest.setTimeout(120_000);

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
type Operation = { path: string; method: string; op: OpenAPIV3.OperationObject };

function operations(doc: OpenAPIV3.Document): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item?.[m]).map((method) => ({ path, method, op: item![method]! })));
}

/**
 * openapi-typescript's CLI, as a web UI or CLI build would run it (its CommonJS entry needs ESM-only
 * packages jest cannot load). `--default-non-nullable false`: by default it makes every field with a
 * default required, which is right for answers but would make a client send `type` and `labels` it may leave out.
 */
async function generateTypes(docFile: string, outFile: string): Promise<void> {
  const cli = join(dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js');
  await promisify(execFile)(process.execPath, [cli, docFile, '--output', outFile, '--default-non-nullable', 'false'], { timeout: 60_000 });
}

/** Type-checks `source` against the generated types with the TypeScript compiler; returns the error messages. */
function typeErrors(dir: string, source: string): string[] {
  const file = join(dir, 'client.ts');
  writeFileSync(file, source);
  const program = ts.createProgram([file], { strict: true, noEmit: true, noUncheckedIndexedAccess: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, types: [] });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const CLIENT = `
import type { components, paths } from './api';
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Submit = paths['/api/cloud/jobs']['post'];
const body: Json<Submit['requestBody']> = { config: { max_train_steps: 300 }, provider: 'local', dataloader_config: [{ id: 'a', type: 'local', instance_data_dir: '/data' }] };
declare const accepted: Json<Submit['responses'][202]>;
const status: components['schemas']['Job']['status'] = accepted.status;
const cost: number = accepted.cost_usd;
const idempotencyKey: Submit['parameters']['header'] = { 'Idempotency-Key': 'k-1' };
declare const problem: Submit['responses'][400]['content']['application/problem+json'];
const code: string = problem.code;
declare const page: Json<paths['/api/cloud/jobs']['get']['responses'][200]>;
const next: string | null = page.next_cursor;
const limit: paths['/api/cloud/jobs']['get']['parameters']['query'] = { limit: 10, status: 'running' };
declare const claimed: Json<paths['/api/workers/claim']['post']['responses'][200]>;
const fence: number = claimed.fence;
declare const event: paths['/api/events']['get']['responses'][200]['content']['text/event-stream'];
if (event.event === 'job.changed') { const changed: string = event.data.job_id; void changed; }
export { body, status, cost, idempotencyKey, code, next, limit, fence };
`;

/** What a typed client must refuse: a missing required field, a wrong enum value, a field the API does not have. */
const WRONG_CLIENT = `
import type { paths } from './api';
type Body = paths['/api/cloud/jobs']['post']['requestBody']['content']['application/json'];
const noConfig: Body = { provider: 'local' };
const badType: Body = { config: {}, type: 'inference' };
declare const job: paths['/api/cloud/jobs/{id}']['get']['responses'][200]['content']['application/json'];
const nope: string = job.no_such_field;
export { noConfig, badType, nope };
`;

describe('the OpenAPI document describes every route, and a typed client can be generated from it', () => {
  let t: TestStack;
  let doc: OpenAPIV3.Document;
  let dir: string;
  beforeAll(async () => {
    t = await startTestStack();
    const res = await fetch(`${t.gatewayUrl}/api/docs-json`);
    expect(res.status).toBe(200);
    doc = await json<OpenAPIV3.Document>(res);
    dir = mkdtempSync(join(tmpdir(), 'ct-openapi-'));
  });
  afterAll(async () => {
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a valid OpenAPI 3 document whose references all resolve', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    // validate() checks the document against the OpenAPI 3.0 schema and resolves every $ref (it works on a copy).
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('documents every route the gateway serves, with schemas for every body and answer', () => {
    const ops = operations(doc);
    const routes = ops.map((o) => `${o.method.toUpperCase()} ${o.path}`);
    for (const r of ['POST /api/cloud/jobs', 'GET /api/cloud/jobs/{id}/logs', 'GET /api/events', 'PUT /api/cloud/providers/{name}/config', 'POST /api/webhooks/{provider}',
      'POST /api/workers/claim', 'DELETE /api/admin/workers/{id}', 'GET /api/auth/s3-credentials', 'GET /health', 'GET /health/ready', 'GET /metrics']) {
      expect(routes).toContain(r);
    }
    const missing: string[] = [];
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.operationId || !op.summary) missing.push(`${where}: operationId and summary`);
      const responses = Object.entries(op.responses ?? {}) as Array<[string, OpenAPIV3.ResponseObject]>;
      const success = responses.filter(([status]) => /^2/.test(status));
      if (success.length === 0) missing.push(`${where}: a 2xx answer`);
      for (const [status, r] of responses) {
        if (status === '204') continue;
        const media = Object.values(r.content ?? {});
        if (media.length === 0 || media.some((m) => !m.schema)) missing.push(`${where} ${status}: a response schema`);
      }
      const problem = responses.find(([status]) => status === 'default')?.[1].content?.['application/problem+json']?.schema as OpenAPIV3.ReferenceObject | undefined;
      if (problem?.$ref !== '#/components/schemas/Problem') missing.push(`${where}: problem+json for other errors`);
      const body = op.requestBody as OpenAPIV3.RequestBodyObject | undefined;
      if (body && !body.content['application/json']?.schema) missing.push(`${where}: a JSON request body schema`);
      if (['post', 'put', 'patch'].includes(method) && !body && !['/api/workers/claim', '/api/cloud/jobs/{id}/cancel'].includes(path) && !path.endsWith('/drain') && !path.endsWith('/rotate-token')) {
        missing.push(`${where}: a request body`);
      }
      for (const p of (op.parameters ?? []) as OpenAPIV3.ParameterObject[]) if (!p.schema) missing.push(`${where}: a schema for ${p.in} parameter ${p.name}`);
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const name of pathParams) {
        const p = ((op.parameters ?? []) as OpenAPIV3.ParameterObject[]).find((x) => x.in === 'path' && x.name === name);
        if (!p || (p.schema as OpenAPIV3.SchemaObject).type !== 'string' || !(p.schema as OpenAPIV3.SchemaObject).pattern) missing.push(`${where}: a constrained schema for path parameter ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('documents the headers and the SSE payloads the API reads and writes', () => {
    const submit = doc.paths['/api/cloud/jobs']?.post;
    expect((submit?.parameters as OpenAPIV3.ParameterObject[]).find((p) => p.in === 'header' && p.name === 'Idempotency-Key')?.schema).toMatchObject({ type: 'string', maxLength: 200 });
    const logs = doc.paths['/api/cloud/jobs/{id}/logs']?.get;
    expect((logs?.parameters as OpenAPIV3.ParameterObject[]).map((p) => `${p.in}:${p.name}`).sort()).toEqual(['header:Last-Event-ID', 'path:id', 'query:after', 'query:follow', 'query:limit']);
    const ok = logs?.responses['200'] as OpenAPIV3.ResponseObject;
    expect(Object.keys(ok.content ?? {}).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(ok.content?.['text/event-stream']?.schema).toEqual({ $ref: '#/components/schemas/JobLogStreamEvent' });
    expect(doc.components?.schemas?.['JobChangeStreamEvent']).toBeDefined();
  });

  it('answers as it documents: real answers validate against their documented schemas', async () => {
    // The document itself is the schema store; `nullable` is OpenAPI 3.0's and ajv knows it.
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema(doc, 'doc');
    const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
    const mismatches: string[] = [];
    const check = async (path: string, method: string, res: Response) => {
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
      const ref = `doc#/${pointer('paths', path, method, 'responses', String(res.status), 'content', type, 'schema')}`;
      const where = `${method.toUpperCase()} ${path} ${res.status} ${type}`;
      if (!ajv.getSchema(ref)) return void mismatches.push(`${where}: not documented`);
      const validate = ajv.compile({ $ref: ref });
      const body: unknown = await res.json();
      if (!validate(body)) mismatches.push(`${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`);
    };
    const worker = await json<{ worker: { id: string }; token: string }>(await t.api('/api/admin/workers', { method: 'POST', body: JSON.stringify({ name: 'doc-check', labels: ['doc'] }) }));
    const asWorker = (path: string, body: unknown) => fetch(`${t.gatewayUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${worker.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const job = await submit(t, { provider: 'worker', worker_requirements: { labels: ['doc'] }, config: { steps: 1 } });
    await check('/api/cloud/jobs', 'post', await t.api('/api/cloud/jobs', { method: 'POST', body: JSON.stringify({ config: {}, provider: 'worker', worker_requirements: { labels: ['nobody'] } }) }));
    await check('/api/cloud/jobs/submit', 'post', await t.api('/api/cloud/jobs/submit?provider=worker', { method: 'POST', body: JSON.stringify({ config: {}, worker_requirements: { labels: ['nobody'] } }) }));
    await check('/api/workers/register', 'post', await asWorker('/api/workers/register', { labels: ['doc'], gpus: [{ name: 'test', memoryMiB: 1024 }] }));
    // The job waits for packaging before a worker can claim it.
    let claim: Response | undefined;
    for (let i = 0; i < 20 && claim?.status !== 200; i++) claim = await asWorker('/api/workers/claim?waitMs=1000', {});
    const claimed = claim?.status === 200 ? await json<{ jobId: string; fence: number }>(claim.clone()) : undefined;
    await check('/api/workers/claim', 'post', claim!);
    await check('/api/workers/heartbeat', 'post', await asWorker('/api/workers/heartbeat', { jobId: job.id, fence: claimed?.fence ?? 1 }));
    await check('/api/workers/jobs/{id}/logs', 'post', await asWorker(`/api/workers/jobs/${String(job.id)}/logs`, { fence: claimed?.fence ?? 1, lines: [{ stream: 'stdout', line: 'step 1' }] }));
    await check('/api/workers/jobs/{id}/report', 'post', await asWorker(`/api/workers/jobs/${String(job.id)}/report`, { fence: claimed?.fence ?? 1, kind: 'progress', progress: { step: 1, totalSteps: 2, loss: 0.5 } }));
    for (const [path, url] of [
      ['/api/cloud/jobs', '/api/cloud/jobs'], ['/api/cloud/jobs/{id}', `/api/cloud/jobs/${String(job.id)}`], ['/api/cloud/jobs/{id}/events', `/api/cloud/jobs/${String(job.id)}/events`],
      ['/api/cloud/jobs/{id}/logs', `/api/cloud/jobs/${String(job.id)}/logs`], ['/api/cloud/providers', '/api/cloud/providers'], ['/api/cloud/providers/{name}', '/api/cloud/providers/replicate'],
      ['/api/cloud/providers/{name}/config', '/api/cloud/providers/replicate/config'], ['/api/cloud/providers/{name}/validate', '/api/cloud/providers/local/validate'],
      ['/api/cloud/hardware-options', '/api/cloud/hardware-options'], ['/api/auth/s3-credentials', '/api/auth/s3-credentials'], ['/api/admin/workers', '/api/admin/workers'],
      ['/api/cloud/jobs/{id}', '/api/cloud/jobs/00000000-0000-4000-8000-000000000000'], ['/api/cloud/jobs', '/api/cloud/jobs?limit=0'], ['/health', '/health'], ['/health/ready', '/health/ready'],
    ] as const) {
      await check(path, 'get', await t.api(url));
    }
    await check('/api/cloud/jobs/{id}/cancel', 'post', await t.api(`/api/cloud/jobs/${String(job.id)}/cancel`, { method: 'POST' }));
    await check('/api/admin/workers/{id}', 'patch', await t.api(`/api/admin/workers/${worker.worker.id}`, { method: 'PATCH', body: JSON.stringify({ gpu_memory_gib: 8 }) }));
    await check('/api/admin/workers/{id}/rotate-token', 'post', await t.api(`/api/admin/workers/${worker.worker.id}/rotate-token`, { method: 'POST' }));
    expect(mismatches).toEqual([]);
  });

  it('generates TypeScript types that a client type-checks against, and that catch a wrong one', async () => {
    const docFile = join(dir, 'openapi.json');
    writeFileSync(docFile, JSON.stringify(doc));
    await generateTypes(docFile, join(dir, 'api.ts'));
    expect(typeErrors(dir, CLIENT)).toEqual([]);
    const errors = typeErrors(dir, WRONG_CLIENT);
    expect(errors.join('\n')).toMatch(/config/);
    expect(errors.join('\n')).toMatch(/inference/);
    expect(errors.join('\n')).toMatch(/no_such_field/);
  });
});

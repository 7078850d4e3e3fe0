import type { Request, Response } from 'express';
import { jsonGuard, jsonProblem, MAX_JSON_DEPTH } from './json-guard';

describe('jsonProblem', () => {
  it('lets ordinary JSON through, astral characters and their surrogate pairs included', () => {
    expect(jsonProblem({ config: { prompt: 'a 😀 photo', 'ü': [1, null, true] }, dataloader_config: [] })).toBeNull();
  });

  it('refuses what Postgres cannot store: NUL and lone surrogates, in values and keys', () => {
    expect(jsonProblem({ a: 'x\u0000y' })).toMatch(/NUL/);
    expect(jsonProblem({ 'x\u0000': 1 })).toMatch(/key contains a NUL/);
    expect(jsonProblem(JSON.parse('{"config":{"k":"\\ud800"}}'))).toMatch(/lone UTF-16 surrogate/);
    expect(jsonProblem(JSON.parse('{"gpus":[{"name":"a\\udfffb"}]}'))).toMatch(/lone UTF-16 surrogate/);
    expect(jsonProblem(JSON.parse('{"\\udbff":1}'))).toMatch(/key contains a lone/);
    expect(jsonProblem(JSON.parse('{"a":"\\udfff\\ud800"}'))).toMatch(/lone/); // the halves in the wrong order
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH without recursing itself', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(jsonProblem(deep)).toMatch(`deeper than ${MAX_JSON_DEPTH}`);
  });

  it("leaves a webhook's raw body alone: walking an 8 MiB Buffer as an object took seconds (a gzip body timed out)", () => {
    const req = { body: Buffer.alloc(8 * 1024 * 1024, 0), query: {} } as unknown as Request;
    const next = jest.fn();
    const started = process.hrtime.bigint();
    jsonGuard(req, {} as Response, next);
    expect(next).toHaveBeenCalledWith();
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });
});

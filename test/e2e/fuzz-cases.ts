import fc from 'fast-check';
import type { OpenAPIV3 } from 'openapi-types';

/**
 * Malformed requests for one operation of the OpenAPI document, for fuzz.e2e-spec.ts. Each case starts
 * from a request the document says is valid and breaks one thing (the body, one query or path parameter,
 * one header, the content type or encoding), so what is under test is the gateway's handling of that thing.
 */

type Schema = OpenAPIV3.SchemaObject | OpenAPIV3.ReferenceObject;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

export interface Route {
  method: string;
  path: string;
  op: OpenAPIV3.OperationObject;
  body?: OpenAPIV3.SchemaObject;
  params: OpenAPIV3.ParameterObject[];
  /** Which credential the route takes, from its security requirements. */
  auth: 'api_key' | 'worker_token' | 'none';
}

export interface Case {
  /** What was broken, for the report of a failure. */
  label: string;
  /** Path parameters, as raw (already percent-encoded, or deliberately malformed) segments. */
  path: Record<string, string>;
  query: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Send the route's valid credential (`Authorization: Bearer …`) unless a header case replaced it. */
  withCredential: boolean;
}

export function routesOf(doc: OpenAPIV3.Document): Route[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item?.[m]).map((method) => {
      const op = item![method]!;
      const body = (op.requestBody as OpenAPIV3.RequestBodyObject | undefined)?.content['application/json']?.schema;
      const security = (op.security ?? []).flatMap((s) => Object.keys(s));
      const auth = security.includes('api_key') ? 'api_key' : security.includes('worker_token') ? 'worker_token' : 'none';
      return { method, path, op, ...(body ? { body: resolve(doc, body) } : {}), params: (op.parameters ?? []) as OpenAPIV3.ParameterObject[], auth };
    }),
  );
}

export function resolve(doc: OpenAPIV3.Document, s: Schema): OpenAPIV3.SchemaObject {
  if (!('$ref' in s)) return s;
  const found = doc.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')];
  if (!found) throw new Error(`unresolved ${s.$ref}`);
  return resolve(doc, found);
}

const STRING_CANDIDATES = ['local', 'x', '1', 'a-1', '2024-01-01T00:00:00.000Z'];

/**
 * A value the schema accepts: `full` fills every optional field too (and one item per array, one entry per
 * map), so that a broken field sits among valid ones and reaches the code behind validation.
 */
export function sample(doc: OpenAPIV3.Document, schema: Schema, full = false): unknown {
  const s = resolve(doc, schema);
  const alternatives = s.oneOf ?? s.anyOf ?? s.allOf;
  if (alternatives?.[0]) return sample(doc, alternatives[0], full);
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'object': {
      const keys = full ? Object.keys(s.properties ?? {}) : (s.required ?? []);
      const entries = keys.map((k) => [k, sample(doc, s.properties?.[k] ?? {}, full)]);
      const map = s.additionalProperties;
      if (full && !s.properties && map) entries.push(['k', map === true ? 'v' : sample(doc, map, full)]);
      return Object.fromEntries(entries);
    }
    case 'array':
      return Array.from({ length: Math.max(s.minItems ?? 0, full && (s.maxItems ?? 1) > 0 ? 1 : 0) }, () => sample(doc, s.items, full));
    case 'string': {
      const fits = (v: string) => (!s.pattern || new RegExp(s.pattern).test(v)) && v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity);
      return STRING_CANDIDATES.find(fits) ?? 'x'.repeat(s.minLength ?? 1);
    }
    case 'integer':
    case 'number':
      return s.minimum ?? 0;
    case 'boolean':
      return false;
    default:
      return full ? 'v' : {};
  }
}

/** Every field path of a schema (optional ones too, array items as `0`, map entries as `k`), a few levels deep. */
function propertyPaths(doc: OpenAPIV3.Document, schema: Schema, prefix: string[] = [], depth = 4): string[][] {
  const s = resolve(doc, schema);
  if (depth === 0) return [];
  const child = (key: string, c: Schema) => [[...prefix, key], ...propertyPaths(doc, c, [...prefix, key], depth - 1)];
  if (s.type === 'array' && s.items) return child('0', s.items);
  if (s.type !== 'object') return [];
  const map = s.additionalProperties;
  if (!s.properties) return map ? child('k', map === true ? {} : map) : [];
  return Object.entries(s.properties).flatMap(([k, c]) => child(k, c));
}

function setAt(value: unknown, path: string[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) {
    const copy = [...(value as unknown[])];
    copy[Number(head)] = setAt(copy[Number(head)], rest, leaf);
    return copy;
  }
  const obj = value && typeof value === 'object' ? { ...(value as Record<string, unknown>) } : {};
  obj[head] = setAt(obj[head], rest, leaf);
  return obj;
}

/** Values of the wrong type, out of range, or that break storage: NUL, lone surrogates, huge numbers and strings. */
const NASTY_VALUES: unknown[] = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '..', '../../../../etc/passwd', '%00', '\u202e', '😀', 'x'.repeat(70_000),
  -1, 0, -0.5, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, true, false, null, [], {}, [null], { '': null }, ['\u0000'], { a: { b: { c: {} } } },
];
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NASTY_VALUES),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: -(2 ** 34), max: 2 ** 34 }),
  fc.double(),
);

/** Bodies no schema can make sense of: bad JSON, non-objects, prototype keys, nesting a parser might not survive. */
const RAW_BODIES = [
  '', '{', '}', '{"a":', 'null', 'true', '0', '"x"', '[]', '[{}]', '{"a":1}{"b":2}', '{"a":NaN}', '{"a":Infinity}', "{'a':1}", '\ufeff{}', '\u0000',
  '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"\\ud800":1}', '{"\\u0000":1}', '{"a":1e999999}', '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}', `${'['.repeat(10_000)}${']'.repeat(10_000)}`, `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`, 'a=1&b=2', '<xml/>',
];

const CONTENT_TYPES = ['text/plain', 'application/xml', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=nope',
  'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '*/*', 'application/merge-patch+json', ''];
const CONTENT_ENCODINGS = ['gzip', 'deflate', 'br', 'identity', 'foo', 'gzip, gzip'];

/** Query and path values as they appear on the wire: malformed escapes, NUL, surrogates, huge numbers, traversal. */
const RAW_URL_VALUES = ['', '%00', '%E0%A4%A', '%ED%A0%80', '%', '%%', '..', '%2e%2e', '%2e%2e%2f', '.', '%2F', 'a%2Fb', '-1', '0', '1.5', '1e400',
  '99999999999999999999999', '9223372036854775808', 'NaN', 'Infinity', 'true', 'null', '%F0%9F%98%80', '%C3%BC', 'a'.repeat(3000), '%20', '+', '[]', '{}', '__proto__', 'constructor'];

function encode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate: what a client that encodes it anyway sends
  }
}
const rawUrlValue = fc.oneof(fc.constantFrom(...RAW_URL_VALUES), fc.string({ unit: 'binary', maxLength: 30 }).map(encode));

/** Header values Node can send (latin1, no control characters but tab). */
const headerSafe = (v: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v);
const garbageHeader = fc.oneof(fc.constantFrom('', ' ', 'x'.repeat(8_000), '\u00ff\u00fe\u00e9', 'a\tb', '-1', '0x10', '1.5', '99999999999999999999'), fc.string({ maxLength: 40 }).filter(headerSafe));

export interface Fixtures {
  /** The route's own credential. */
  credential(route: Route): string | null;
  /** A value for a path parameter the route accepts (a real id for reads, a well-formed unknown one for writes). */
  pathValue(route: Route, name: string): string;
  /** A query the route accepts (a short wait for the worker claim, the job a webhook names). */
  baseQuery(route: Route): string;
}

/** The valid request a case starts from. */
export function baseCase(doc: OpenAPIV3.Document, route: Route, fx: Fixtures): Case {
  const path = Object.fromEntries(route.params.filter((p) => p.in === 'path').map((p) => [p.name, fx.pathValue(route, p.name)]));
  const body = route.body ? JSON.stringify(sample(doc, route.body)) : undefined;
  return { label: 'valid', path, query: fx.baseQuery(route), headers: body !== undefined ? { 'content-type': 'application/json' } : {}, ...(body !== undefined ? { body } : {}), withCredential: true };
}

/**
 * The boundary values every field, parameter and header gets, one case each: what breaks storage (NUL, a
 * lone surrogate, a number past 32 bits) tends to hide behind one field, where random draws rarely land.
 */
const BOUNDARY_VALUES: unknown[] = ['\u0000', '\ud800', '', 'x'.repeat(70_000), -1, 1.5, 2 ** 31, 2 ** 53, 1e308, true, null, [], {}];

export function boundaryCases(doc: OpenAPIV3.Document, route: Route, fx: Fixtures): Case[] {
  const base = baseCase(doc, route, fx);
  const cases: Case[] = [];
  if (route.body) {
    for (const valid of [sample(doc, route.body), sample(doc, route.body, true)]) {
      for (const p of propertyPaths(doc, route.body)) {
        for (const v of BOUNDARY_VALUES) cases.push({ ...base, label: `${p.join('.')} = ${JSON.stringify(v).slice(0, 20)}`, body: JSON.stringify(setAt(valid, p, v)) });
      }
    }
  }
  const joinQuery = (part: string) => [base.query, part].filter(Boolean).join('&');
  for (const p of route.params) {
    for (const v of RAW_URL_VALUES) {
      if (p.in === 'query') cases.push({ ...base, label: `query ${p.name}=${v.slice(0, 20)}`, query: joinQuery(`${p.name}=${v}`) });
      if (p.in === 'path') cases.push({ ...base, label: `path ${p.name}=${v.slice(0, 20)}`, path: { ...base.path, [p.name]: v } });
      if (p.in === 'header' && headerSafe(decodeURIComponentSafe(v))) cases.push({ ...base, label: `header ${p.name}: ${v.slice(0, 20)}`, headers: { ...base.headers, [p.name]: decodeURIComponentSafe(v) } });
    }
  }
  return cases;
}

function decodeURIComponentSafe(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** One broken thing per case, drawn by fast-check. */
export function caseArbitrary(doc: OpenAPIV3.Document, route: Route, fx: Fixtures): fc.Arbitrary<Case> {
  const base = baseCase(doc, route, fx);
  const minimal = route.body ? sample(doc, route.body) : {};
  const full = route.body ? sample(doc, route.body, true) : {};
  const validBody = fc.constantFrom(minimal, full);
  const paths = route.body ? propertyPaths(doc, route.body) : [];
  const withBody = (label: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Case => ({ ...base, label, body, headers: { ...base.headers, ...headers } });
  const arbs: Array<fc.Arbitrary<Case>> = [
    fc.constantFrom(...RAW_BODIES).map((b) => withBody(`raw body ${JSON.stringify(b.slice(0, 40))}`, b)),
    nastyValue.map((v) => withBody('body is a wrong value', JSON.stringify(v) ?? 'null')),
    fc.tuple(validBody, fc.string({ maxLength: 20 }), nastyValue).map(([valid, k, v]) => withBody(`extra field ${JSON.stringify(k)}`, JSON.stringify({ ...(valid as object), [k || 'extra']: v }))),
    fc.integer({ min: 20, max: 400 }).map((n) => withBody(`nested ${n} deep`, `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
    fc.constantFrom(...CONTENT_TYPES).map((ct) => withBody(`content-type ${JSON.stringify(ct)}`, base.body ?? '{}', { 'content-type': ct })),
    fc.constantFrom(...CONTENT_ENCODINGS).map((enc) => withBody(`content-encoding ${enc}`, 'not compressed at all', { 'content-type': 'application/json', 'content-encoding': enc })),
  ];
  if (paths.length > 0) {
    const field = fc.tuple(validBody, fc.constantFrom(...paths));
    // Three times the weight: a broken field among valid ones is what gets furthest into a handler.
    const broken = fc.tuple(field, nastyValue).map(([[valid, p], v]) => withBody(`${p.join('.')} = ${JSON.stringify(v)?.slice(0, 60)}`, JSON.stringify(setAt(valid, p, v)) ?? 'null'));
    arbs.push(broken, broken, broken);
    arbs.push(field.map(([valid, p]) => withBody(`${p.join('.')} left out`, JSON.stringify(setAt(valid, p, undefined)) ?? 'null')));
  }
  const query = route.params.filter((p) => p.in === 'query').map((p) => p.name);
  const joinQuery = (...parts: string[]) => [base.query, ...parts].filter(Boolean).join('&');
  arbs.push(
    fc.tuple(fc.constantFrom(...query, 'zzz', '__proto__[x]', 'constructor[prototype][x]', ''), rawUrlValue).map(([name, v]) => ({ ...base, label: `query ${name}=${v.slice(0, 60)}`, query: joinQuery(`${name}=${v}`) })),
    fc.constantFrom(...query, 'a').map((name) => ({ ...base, label: `query ${name} repeated and bracketed`, query: joinQuery(`${name}=1`, `${name}=2`, `${name}[]=3`, `${name}[x]=4`) })),
  );
  const pathNames = Object.keys(base.path);
  if (pathNames.length > 0) {
    arbs.push(fc.tuple(fc.constantFrom(...pathNames), rawUrlValue).map(([name, v]) => ({ ...base, label: `path ${name}=${v.slice(0, 60)}`, path: { ...base.path, [name]: v } })));
  }
  const headerNames = route.params.filter((p) => p.in === 'header').map((p) => p.name);
  arbs.push(
    fc.tuple(fc.constantFrom('authorization', 'x-api-key'), fc.oneof(garbageHeader, fc.constantFrom('Bearer', 'Bearer ', 'bearer KEY', 'Basic Zm9vOmJhcg==', 'Bearer ctk_x_y', 'Bearer ctw_x_y', 'Bearer KEYx', 'Token KEY', 'Bearer KEY, Bearer KEY'))).map(
      ([name, v]) => ({ ...base, label: `${name}: ${v.slice(0, 60)}`, headers: { ...base.headers, [name]: v.replaceAll('KEY', fx.credential(route) ?? 'none') }, withCredential: name !== 'authorization' }),
    ),
    fc.tuple(fc.constantFrom(...headerNames, 'idempotency-key', 'last-event-id', 'accept'), fc.oneof(garbageHeader, fc.constantFrom('text/event-stream', 'x'.repeat(201)))).map(([name, v]) => ({
      ...base, label: `header ${name}: ${v.slice(0, 60)}`, headers: { ...base.headers, [name]: v },
    })),
  );
  return fc.oneof(...arbs);
}

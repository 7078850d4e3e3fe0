import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { JsonValue, RoutePattern } from './replicate-sim.types';

/** What a route handler produces; the server writes it (or, for a scripted drop, destroys the socket instead). */
export type SimReply =
  | { status: number; body?: JsonValue; headers?: Record<string, string>; problem?: boolean }
  | { status: number; stream: Readable; headers: Record<string, string> };

/** Thrown by handlers for RFC 7807 errors; `extra` carries fields such as `invalid_fields`. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly title?: string,
    readonly extra: Record<string, JsonValue> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const notFound = (detail = 'The requested resource could not be found.'): ProblemError => new ProblemError(404, detail);

export function problemReply(err: ProblemError): SimReply {
  const body: Record<string, JsonValue> = { ...(err.title ? { title: err.title } : {}), detail: err.detail, status: err.status, ...err.extra };
  return { status: err.status, body, headers: err.headers, problem: true };
}

export function writeReply(res: ServerResponse, reply: SimReply, extraHeaders: Record<string, string> = {}): void {
  if ('stream' in reply) {
    res.writeHead(reply.status, { ...extraHeaders, ...reply.headers });
    reply.stream.on('error', () => res.destroy());
    reply.stream.pipe(res);
    return;
  }
  const headers: Record<string, string> = { ...extraHeaders, ...(reply.headers ?? {}) };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  headers['content-type'] = reply.problem ? 'application/problem+json' : 'application/json';
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(reply.status, headers);
  res.end(text);
}

/** Reads a small JSON body. The client sends `Content-Type: application/json` even on bodyless POSTs, so empty means `{}`. */
export async function readJsonBody(req: IncomingMessage, limit = 10_000_000): Promise<Record<string, JsonValue>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ProblemError(413, 'Request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProblemError(400, 'Request body is not valid JSON', 'Bad Request');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProblemError(400, 'Request body must be a JSON object', 'Bad Request');
  }
  return parsed as Record<string, JsonValue>;
}

/** Every create route: the ones where a dropped response leaves an orphaned run behind. */
const CREATE_ROUTES = /^POST \/v1\/(predictions|models\/[^/]+\/[^/]+\/predictions|models\/[^/]+\/[^/]+\/versions\/[^/]+\/trainings|deployments\/[^/]+\/[^/]+\/predictions)$/;

/**
 * Compiles a route pattern matched against `"METHOD /path"`. Strings: optional method (or `*`) then a path
 * where `*` is one segment and `**` is anything; `"create"` is every create route. No method = any method.
 */
export function compileRoutePattern(pattern: RoutePattern | undefined): RegExp {
  if (pattern === undefined) return /^/;
  if (pattern instanceof RegExp) return pattern;
  if (pattern === 'create') return CREATE_ROUTES;
  const m = /^([A-Z*]+)\s+(\S+)$/.exec(pattern.trim());
  const method = m ? m[1]! : '*';
  const path = m ? m[2]! : pattern.trim();
  const esc = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  // `**` first (anything), then `*` (one segment); split/join avoids a placeholder character
  const pathRe = esc(path)
    .split('**')
    .map((part) => part.replace(/\*/g, '[^/]+'))
    .join('.*');
  return new RegExp(`^${method === '*' ? '[A-Z]+' : esc(method)} ${pathRe}$`);
}

export interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * Cursor pagination over a list sorted newest first. The cursor is opaque (base64url JSON of a position)
 * and `next`/`previous` are ABSOLUTE URLs: the client's paginate() resolves a relative one against its
 * baseUrl and would end up at `/v1/v1/...`.
 */
export function paginate<T>(items: T[], seqOf: (item: T) => number, url: URL, pageSize: number): Page<T> {
  const cursor = decodeCursor(url.searchParams.get('cursor'));
  let start = 0;
  if (cursor && 'b' in cursor) start = items.findIndex((i) => seqOf(i) < cursor.b);
  if (cursor && 'a' in cursor) {
    const firstNewer = items.findIndex((i) => seqOf(i) <= cursor.a);
    const end = firstNewer === -1 ? items.length : firstNewer;
    start = Math.max(0, end - pageSize);
  }
  if (start === -1) start = items.length;
  const results = items.slice(start, start + pageSize);
  const link = (c: { a: number } | { b: number }): string => {
    const u = new URL(url.toString());
    u.searchParams.set('cursor', Buffer.from(JSON.stringify(c)).toString('base64url'));
    return u.toString();
  };
  const last = results[results.length - 1];
  const first = results[0];
  return {
    next: last !== undefined && start + pageSize < items.length ? link({ b: seqOf(last) }) : null,
    previous: first !== undefined && start > 0 ? link({ a: seqOf(first) }) : null,
    results,
  };
}

function decodeCursor(raw: string | null): { a: number } | { b: number } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { a?: unknown; b?: unknown };
    if (typeof v.b === 'number') return { b: v.b };
    if (typeof v.a === 'number') return { a: v.a };
  } catch {
    /* fall through: an unreadable cursor is a client bug, answered like Replicate with a 400 */
  }
  throw new ProblemError(400, 'Invalid cursor', 'Bad Request');
}

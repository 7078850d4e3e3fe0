import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '@ct/job-domain';
import { problemOf } from './problem.filter';

/** Deeper than any real training config or dataloader; deep enough inputs otherwise exhaust the stack. */
export const MAX_JSON_DEPTH = 32;

/** A UTF-16 surrogate without its other half: JSON's `\ud800` escape parses to one, and no UTF-8 text can hold it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be stored, or null. */
function textProblem(s: string, what: 'a string' | 'a key'): string | null {
  if (s.includes('\u0000')) return `${what} contains a NUL character (\\u0000)`;
  // Postgres refuses it in jsonb (a 500 deep in the database otherwise) and replaces it with U+FFFD in text.
  if (LONE_SURROGATE.test(s)) return `${what} contains a lone UTF-16 surrogate (e.g. \\ud800 without its pair)`;
  return null;
}

/**
 * What a JSON body may not contain even when it parses: nesting deeper than MAX_JSON_DEPTH, or text
 * Postgres cannot store in text or jsonb (NUL characters, lone surrogates). Walked without recursion, so
 * the check itself cannot overflow the stack. Null when the value is fine.
 */
export function jsonProblem(value: unknown): string | null {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (typeof v === 'string') {
      const bad = textProblem(v, 'a string');
      if (bad) return bad;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return `the JSON is nested deeper than ${MAX_JSON_DEPTH} levels`;
    for (const [k, child] of Object.entries(v)) {
      const bad = textProblem(k, 'a key');
      if (bad) return bad;
      stack.push({ v: child, depth: depth + 1 });
    }
  }
  return null;
}

/** Middleware after the JSON body parser: such bodies are answered 400 before any route sees them. */
export function jsonGuard(req: Request, res: Response, next: NextFunction): void {
  // Only what the JSON parser made: a webhook's raw Buffer walked as an object is one entry per byte (seconds for 8 MiB).
  const problem = req.body !== undefined && !Buffer.isBuffer(req.body) ? jsonProblem(req.body) : null;
  const query = jsonProblem(req.query);
  const found = problem ?? query;
  if (!found) return next();
  const p = problemOf(new DomainError('validation_failed', `The request is not acceptable: ${found}.`));
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

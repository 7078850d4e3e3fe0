import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '@ct/job-domain';
import { problemOf } from './problem.filter';

/** Deeper than any real training config or dataloader; deep enough inputs otherwise exhaust the stack. */
export const MAX_JSON_DEPTH = 32;

/**
 * What a JSON body may not contain even when it parses: nesting deeper than MAX_JSON_DEPTH, or NUL
 * characters (Postgres cannot store them in text or jsonb). Walked without recursion, so the check itself
 * cannot overflow the stack. Null when the value is fine.
 */
export function jsonProblem(value: unknown): string | null {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'a string contains a NUL character (\\u0000)';
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return `the JSON is nested deeper than ${MAX_JSON_DEPTH} levels`;
    for (const [k, child] of Object.entries(v)) {
      if (k.includes('\u0000')) return 'a key contains a NUL character (\\u0000)';
      stack.push({ v: child, depth: depth + 1 });
    }
  }
  return null;
}

/** Middleware after the JSON body parser: such bodies are answered 400 before any route sees them. */
export function jsonGuard(req: Request, res: Response, next: NextFunction): void {
  const problem = req.body !== undefined ? jsonProblem(req.body) : null;
  const query = jsonProblem(req.query);
  const found = problem ?? query;
  if (!found) return next();
  const p = problemOf(new DomainError('validation_failed', `The request is not acceptable: ${found}.`));
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '@ct/job-domain';
import { problemOf } from './problem.filter';

/**
 * Refuses a body whose Content-Length is over the route's limit before reading any of it. body-parser
 * answers the same 413, but only once the whole body has arrived (it drains the request first): a client
 * that declares 100 GB would wait for an answer until the connection timed out, and one that sends too much
 * would upload all of it to hear no. Node discards the unread rest after the answer.
 */
export function declaredLengthLimit(limitFor: (path: string) => number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const limit = limitFor(req.path);
    const declared = Number(req.headers['content-length']);
    if (!(declared > limit)) return next();
    const p = problemOf(new DomainError('payload_too_large', `The request body is larger than the server accepts (${limit} bytes).`));
    res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
  };
}

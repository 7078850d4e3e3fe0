import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '@ct/job-domain';
import { problemOf } from './problem.filter';

/** A body declared at most this much over the limit is read (and thrown away) before the 413 is sent. */
const DRAIN_FACTOR = 4;
/** ...for at most this long. */
const DRAIN_MS = 5_000;

/**
 * Refuses a body whose Content-Length is over the route's limit before parsing any of it. body-parser
 * answers the same 413, but only once the whole body has arrived: a client that declares 100 GB would wait
 * for an answer until the connection timed out. A body declared up to DRAIN_FACTOR × the limit is read and
 * discarded first, though: answering while the client still sends, on a connection that closes after the
 * answer (`Connection: close`), resets it, and the client may lose the 413 to the reset (seen in CI: the fuzz
 * test's oversized bodies got ECONNRESET instead of the answer). Beyond that the answer goes at once.
 */
export function declaredLengthLimit(limitFor: (path: string) => number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const limit = limitFor(req.path);
    const declared = Number(req.headers['content-length']);
    if (!(declared > limit)) return next();
    const answer = (): void => {
      if (res.headersSent) return;
      const p = problemOf(new DomainError('payload_too_large', `The request body is larger than the server accepts (${limit} bytes).`));
      res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
    };
    if (declared > DRAIN_FACTOR * limit || req.readableEnded) return answer();
    const timer = setTimeout(answer, DRAIN_MS);
    const done = (): void => {
      clearTimeout(timer);
      answer();
    };
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
    req.resume();
  };
}

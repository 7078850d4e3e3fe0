import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { problemOf } from '../common/problem.filter';
import { DomainError } from '@ct/job-domain';

/**
 * Streams `/api/cloud/storage/*` to the storage service unchanged (path, query, headers including Host,
 * which SigV4 signs), so S3 clients reach the endpoint through the gateway's address. Written by hand:
 * it is one piped request, and a proxy library would add rewriting we must not have.
 */
export function storageProxy(storageUrl: string) {
  const target = new URL(storageUrl);
  return (req: Request, res: Response, _next: NextFunction): void => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.originalUrl, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) return void res.destroy();
      const p = problemOf(new DomainError('provider_error', 'The storage service is not reachable; try again shortly.'));
      res.status(503).type('application/problem+json').send(JSON.stringify({ ...p, status: 503, code: 'storage_unavailable' }));
    });
    req.pipe(upstream);
  };
}

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { pipeline } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import { errorXml } from '@ct/storage';

export interface StorageProxyOptions {
  /** Seconds S3 clients are asked to wait (Retry-After) before retrying while storage cannot answer; default 1. */
  retryAfterSeconds?: number;
}

/**
 * Streams `/api/cloud/storage/*` to the storage service unchanged (path, query, headers including Host,
 * which SigV4 signs), so S3 clients reach the endpoint through the gateway's address. Written by hand:
 * it is one piped request each way, and a proxy library would add rewriting we must not have.
 *
 * When storage is unreachable, or fails before it has answered (it died mid-upload), the client gets what S3
 * answers when it cannot serve: 503 ServiceUnavailable in S3's XML with Retry-After, which S3 clients parse
 * and retry (a JSON problem made the AWS SDK fail on the body instead). Once storage's answer has begun, a
 * failure can only cut the connection; clients retry a truncated answer.
 */
export function storageProxy(storageUrl: string, opts: StorageProxyOptions = {}) {
  const target = new URL(storageUrl);
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  return (req: Request, res: Response, _next: NextFunction): void => {
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.originalUrl, headers: req.headers });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // pipeline() ends both on a failure either side: storage dying mid-answer, or the client going away.
      pipeline(answer, res, () => undefined);
    });
    upstream.on('error', () => {
      if (res.headersSent) return void res.destroy();
      serviceUnavailable(req, res, retryAfter);
    });
    // A client that leaves before the answer must not keep the storage request (and its upload) open.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // pipe(), not pipeline(): a storage failure must leave the request's socket open for the 503.
    req.pipe(upstream);
  };
}

function serviceUnavailable(req: Request, res: Response, retryAfter: string): void {
  if (res.destroyed || res.writableEnded) return;
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const path = req.originalUrl.split('?')[0] ?? '/';
  const body = Buffer.from(errorXml('ServiceUnavailable', 'The storage service is not reachable; please retry.', requestId, path), 'utf8');
  res.statusCode = 503;
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Retry-After', retryAfter);
  res.setHeader('x-amz-request-id', requestId);
  // The unread rest of an upload would poison a kept-alive connection; closing is cheaper than draining it.
  if (!req.complete) res.setHeader('Connection', 'close');
  res.end(body);
}

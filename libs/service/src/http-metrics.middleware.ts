import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from './metrics';

/**
 * Times every request and labels it with its route template (`/api/cloud/jobs/:id`), never the raw path,
 * so ids do not become series. Requests no route matched (404s, the S3 mount) get their mount or
 * "unmatched".
 */
export function httpMetrics(metrics: Metrics, mounts: readonly string[] = []) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      const template = (req.route as { path?: string } | undefined)?.path;
      const path = req.originalUrl.split('?')[0] ?? '';
      const mount = mounts.find((m) => path === m || path.startsWith(`${m}/`));
      end({ method: req.method, route: template ? `${req.baseUrl}${template}` : mount ? `${mount}/*` : 'unmatched', status: String(res.statusCode) });
    });
    next();
  };
}

import http from 'node:http';
import type { Logger } from '@ct/logging';

export type ReadinessCheck = () => Promise<Record<string, 'ok' | 'down'>>;

/** Wraps a promise so a hung dependency reads as "down" instead of hanging the probe. */
export async function probe(fn: () => Promise<unknown>, ms = 2_000): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** A readiness check that probes each named dependency, all at once. */
export function readiness(deps: Record<string, () => Promise<unknown>>): ReadinessCheck {
  return async () => Object.fromEntries(await Promise.all(Object.entries(deps).map(async ([name, fn]) => [name, await probe(fn)] as const)));
}

/**
 * `/health` (liveness) and `/health/ready` (Postgres, Redis, ...) for the queue services, which have no
 * other HTTP surface. `extra` serves any other route (the storage service's S3 endpoint).
 */
export function startHttp(
  opts: { service: string; port: number; host: string; ready: ReadinessCheck; logger: Logger },
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return json(res, 200, { status: 'ok', service: opts.service });
    if (path === '/health/ready') {
      void opts.ready().then((checks) => {
        const ok = Object.values(checks).every((c) => c === 'ok');
        json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', service: opts.service, checks });
      });
      return;
    }
    if (extra) return extra(req, res);
    res.statusCode = 404;
    res.setHeader('content-type', 'application/problem+json');
    res.end(JSON.stringify({ type: 'urn:ct:error:route_not_found', title: 'route not found', status: 404, code: 'route_not_found', detail: `No route ${path}.` }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      opts.logger.info({ port: (server.address() as { port: number }).port }, `${opts.service} listening`);
      resolve(server);
    });
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

/** Runs a service until SIGINT/SIGTERM, then stops it cleanly (in-flight steps finish or are retried). */
export function runService(name: string, logger: Logger, start: () => Promise<() => Promise<void>>): void {
  start()
    .then((stop) => {
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, `${name} stopping`);
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    })
    .catch((err: Error) => {
      logger.fatal({ err: err.message }, `${name} failed to start`);
      process.exit(1);
    });
}

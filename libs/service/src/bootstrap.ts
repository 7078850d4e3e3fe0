import 'reflect-metadata';
import { Logger as NestLogger, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { httpMetrics } from './http-metrics.middleware';
import { Metrics } from './metrics';

export interface BootOptions {
  service: string;
  port: number;
  host: string;
  /** Express body parsing; off for services that stream bodies (storage, the gateway's S3 proxy). */
  bodyParser?: boolean;
  /** Mount paths labelled as one route in the request metrics (e.g. the S3 endpoint). */
  metricMounts?: string[];
  /** Middleware, OpenAPI and anything else to set up before the server listens. */
  configure?: (app: NestExpressApplication) => void | Promise<void>;
  /** Longest a graceful stop may take before the process exits anyway. */
  stopTimeoutMs?: number;
}

/**
 * Starts a service as a NestJS application: logger, shutdown hooks (SIGTERM/SIGINT close queues and
 * connections; in-flight steps finish or are retried elsewhere), request metrics, then listen.
 * A start-up failure prints one line and exits 1, never a stack trace.
 */
export function bootService(module: DynamicModule, opts: BootOptions): void {
  start(module, opts).catch((err: Error) => {
    process.stderr.write(`${opts.service}: failed to start: ${err.message}\n`);
    process.exit(1);
  });
}

async function start(module: DynamicModule, opts: BootOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, { bodyParser: opts.bodyParser ?? true, bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => setTimeout(() => process.exit(1), opts.stopTimeoutMs ?? 10_000).unref());
  }
  // Started by a launcher (npm start, the test harness) over an IPC channel: never outlive it.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  app.use(httpMetrics(app.get(Metrics), opts.metricMounts));
  await opts.configure?.(app);
  await app.listen(opts.port, opts.host);
  new NestLogger('bootstrap').log(`${opts.service} listening on http://${opts.host}:${(app.getHttpServer().address() as { port: number }).port}`);
  return app;
}

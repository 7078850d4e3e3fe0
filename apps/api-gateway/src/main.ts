import 'reflect-metadata';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { json, raw, type NextFunction, type Request, type Response } from 'express';
import { problemOf } from './common/problem.filter';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { LoggerModule } from 'nestjs-pino';
import { OrgRepository } from '@ct/persistence';
import { loggerOptions } from '@ct/logging';
import type { GatewayEnv } from '@ct/config';
import { Module } from '@nestjs/common';
import { AppModule } from './app.module';
import { InfraModule } from './infra.module';
import { bootstrapAdmin } from './bootstrap-admin';
import { GATEWAY_ENV } from './infra.tokens';
import { storageProxy } from './storage-proxy/storage-proxy';

@Module({
  imports: [
    LoggerModule.forRootAsync({
      imports: [InfraModule],
      inject: [GATEWAY_ENV],
      useFactory: (env: GatewayEnv) => ({
        pinoHttp: {
          ...loggerOptions('api-gateway', env.LOG_LEVEL),
          autoLogging: { ignore: (req: { url?: string }) => (req.url ?? '').startsWith('/health') },
          // One short line per request: no headers (they carry credentials) and no bodies.
          serializers: {
            req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
        },
      }),
    }),
    AppModule,
  ],
})
class RootModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(RootModule, { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(Logger));
  const env = app.get<GatewayEnv>(GATEWAY_ENV);
  app.enableShutdownHooks();
  // S3 bodies stream through untouched; everything else is JSON with a size cap.
  app.use('/api/cloud/storage', storageProxy(env.STORAGE_URL));
  // Webhook signatures cover the exact bytes: keep them raw.
  app.use('/api/webhooks', raw({ type: () => true, limit: env.MAX_BODY_BYTES * 8 }));
  app.use(json({ limit: env.MAX_BODY_BYTES }));
  // body-parser's errors (bad JSON, too large) answer here, before Nest wraps them as generic 400s.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const p = problemOf(err);
    res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
  });
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle('Cloud training API').setVersion('1').addBearerAuth().addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }).build(),
  );
  SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs/openapi.json' });
  const log = new NestLogger('bootstrap');
  await bootstrapAdmin(env, app.get(OrgRepository), (m) => log.log(m));
  await app.listen(env.PORT, env.HOST);
  log.log(`api-gateway listening on http://${env.HOST}:${env.PORT} (docs: /api/docs)`);
}

void bootstrap();

import { Logger as NestLogger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { json, raw, type NextFunction, type Request, type Response } from 'express';
import type { GatewayEnv } from '@ct/config';
import { OrgRepository } from '@ct/persistence';
import { bootstrapAdmin } from './bootstrap-admin';
import { declaredLengthLimit } from './common/body-limit';
import { jsonGuard } from './common/json-guard';
import { problemOf } from './common/problem.filter';
import { buildOpenApiDocument } from './openapi/openapi-document';
import { MAX_WEBHOOK_BODY_BYTES } from './providers/webhooks.controller';
import { storageProxy } from './storage-proxy/storage-proxy';

/** Body handling per route, the OpenAPI document, and the default organisation on first start. */
export async function configureGateway(app: NestExpressApplication, env: GatewayEnv): Promise<void> {
  // S3 bodies stream through untouched; everything else is JSON with a size cap.
  app.use('/api/cloud/storage', storageProxy(env.STORAGE_URL));
  app.use(declaredLengthLimit((path) => (path.startsWith('/api/webhooks') ? MAX_WEBHOOK_BODY_BYTES : env.MAX_BODY_BYTES)));
  // Webhook signatures cover the exact bytes: keep them raw, bounded before anything is parsed.
  app.use('/api/webhooks', raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES }));
  app.use(json({ limit: env.MAX_BODY_BYTES }));
  app.use(jsonGuard);
  // body-parser's errors (bad JSON, too large, an encoding or charset it cannot read) answer here, before Nest wraps them as generic 400s.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const p = problemOf(err);
    res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
  });
  SwaggerModule.setup('api/docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'api/docs-json' });
  await bootstrapAdmin(env, app.get(OrgRepository), (m) => new NestLogger('bootstrap').log(m));
}

import type { INestApplication } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags, DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { healthLiveSchema, healthReadySchema, metricsTextSchema } from '@ct/contracts';
import { HealthController, MetricsController } from '@ct/service';
import { ApiAnswers, ApiProblems } from './api-docs.decorators';
import { SECURITY } from './security';
import { schemaComponents } from './zod-openapi';

const DESCRIPTION = [
  'Submit, follow and manage training jobs; the worker agents\' protocol; provider settings.',
  'Every body, query, path parameter and response here is a zod schema of `libs/contracts`; errors are',
  '`application/problem+json` with a stable `code`. The S3-compatible endpoint `/api/cloud/storage/*` speaks',
  "S3's own protocol (SigV4, XML) and is not described here: use any S3 client with `GET /api/auth/s3-credentials`.",
].join(' ');

let serviceRoutesDocumented = false;

/**
 * libs/service's health and metrics controllers are shared by every service and know nothing of HTTP
 * contracts; the gateway, the one service that serves an API document, describes them with the same
 * decorators as its own routes (once: ApiTags would otherwise repeat).
 */
function documentServiceRoutes(): void {
  if (serviceRoutesDocumented) return;
  serviceRoutesDocumented = true;
  const on = (cls: { prototype: object }, method: string, ...decorators: MethodDecorator[]) => {
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
    if (!descriptor) throw new Error(`${method} is not a route of ${String(cls)}`);
    for (const d of decorators) d(cls.prototype, method, descriptor);
  };
  ApiTags('health')(HealthController);
  on(HealthController, 'live', ApiOperation({ summary: 'Liveness: the process answers' }), ApiAnswers({ status: 200, description: 'alive', json: healthLiveSchema }), ApiProblems());
  on(
    HealthController,
    'ready',
    ApiOperation({ summary: 'Readiness: every dependency (Postgres, Redis) answers' }),
    ApiAnswers({ status: 200, description: 'ready', json: healthReadySchema }, { status: 503, description: 'a dependency is down (the same shape)', json: healthReadySchema }),
    ApiProblems(),
  );
  ApiTags('metrics')(MetricsController);
  on(
    MetricsController,
    'scrape',
    ApiOperation({ summary: 'Prometheus metrics; with METRICS_TOKEN set, only for that bearer token' }),
    ApiBearerAuth(SECURITY.metricsToken),
    ApiAnswers({ status: 200, description: 'the metrics', text: metricsTextSchema }, { status: 401, description: 'METRICS_TOKEN is set and was not sent', text: metricsTextSchema }),
    ApiProblems(),
  );
}

/** The OpenAPI 3.0 document of the gateway, served at /api/docs-json (and as Swagger UI at /api/docs). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  documentServiceRoutes();
  const config = new DocumentBuilder()
    .setTitle('Cloud training API')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key: `Authorization: Bearer <key>`' }, SECURITY.apiKeyBearer)
    .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header', description: 'an API key: `X-API-Key: <key>`' }, SECURITY.apiKeyHeader)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: "a worker agent's token (POST /api/admin/workers)" }, SECURITY.workerToken)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the deployment sets one' }, SECURITY.metricsToken)
    .build();
  const doc = SwaggerModule.createDocument(app, config, {
    // Short, stable operation ids (`Jobs_submit`): a generated client names its functions after them.
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...schemaComponents() } };
  return doc;
}

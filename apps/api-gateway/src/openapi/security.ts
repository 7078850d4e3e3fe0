import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';
import { ApiAuthProblems } from './api-docs.decorators';

/** The security schemes of the document (registered in openapi-document.ts). */
export const SECURITY = {
  /** An API key as `Authorization: Bearer <key>`. */
  apiKeyBearer: 'api_key',
  /** The same key as `X-API-Key: <key>`. */
  apiKeyHeader: 'api_key_header',
  /** A worker agent's token as `Authorization: Bearer <token>`. */
  workerToken: 'worker_token',
  /** METRICS_TOKEN as `Authorization: Bearer <token>`, when the deployment sets one. */
  metricsToken: 'metrics_token',
} as const;

/** Routes for API keys (either header). */
export const ApiKeyAuth = (): ClassDecorator & MethodDecorator =>
  applyDecorators(ApiBearerAuth(SECURITY.apiKeyBearer), ApiSecurity(SECURITY.apiKeyHeader), ApiAuthProblems('unauthenticated'));

/** Routes for admin API keys only. */
export const ApiAdminKeyAuth = (): ClassDecorator & MethodDecorator => applyDecorators(ApiKeyAuth(), ApiAuthProblems('unauthenticated', 'forbidden'));

/** The worker protocol's routes: a worker token, not an API key. */
export const ApiWorkerAuth = (): ClassDecorator & MethodDecorator => applyDecorators(ApiBearerAuth(SECURITY.workerToken), ApiAuthProblems('unauthenticated'));

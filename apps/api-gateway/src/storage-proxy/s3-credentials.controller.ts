import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { storageMasterKey, type GatewayEnv } from '@ct/config';
import { s3CredentialsSchema } from '@ct/contracts';
import type { Principal } from '@ct/persistence';
import { apiKeyAccessKeyId, BUCKETS, deriveSecret } from '@ct/storage';
import type { Request } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { GATEWAY_ENV } from '../infra.tokens';
import { ApiJson, ApiProblems } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';

/**
 * S3 credentials for the caller's API key, for any S3 client (AWS SDK, boto3, mc) to read the
 * organisation's packages and outputs from the built-in endpoint. Derived, not stored: revoking the
 * API key revokes them.
 */
@ApiTags('storage')
@ApiKeyAuth()
@Controller('api/auth/s3-credentials')
export class S3CredentialsController {
  constructor(@Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {}

  @Get()
  @ApiOperation({ summary: "S3 credentials of the caller's API key for the built-in endpoint (`/api/cloud/storage`)" })
  @ApiJson(200, s3CredentialsSchema, 'path-style endpoint, region and keys')
  @ApiProblems()
  get(@CurrentPrincipal() p: Principal, @Req() req: Request) {
    const accessKeyId = apiKeyAccessKeyId(p.apiKeyId);
    const base = (this.env.PUBLIC_URL ?? `${req.protocol}://${req.headers.host}`).replace(/\/$/, '');
    return {
      endpoint: `${base}/api/cloud/storage`,
      region: this.env.S3_REGION,
      force_path_style: true as const,
      access_key_id: accessKeyId,
      secret_access_key: deriveSecret(storageMasterKey(this.env), accessKeyId),
      buckets: { datasets: `${BUCKETS.datasets}/${p.orgId}/`, outputs: `${BUCKETS.outputs}/${p.orgId}/` },
    };
  }
}

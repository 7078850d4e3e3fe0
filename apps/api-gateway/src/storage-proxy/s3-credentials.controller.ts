import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { storageMasterKey, type GatewayEnv } from '@ct/config';
import type { Principal } from '@ct/persistence';
import { apiKeyAccessKeyId, BUCKETS, deriveSecret } from '@ct/storage';
import type { Request } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { GATEWAY_ENV } from '../infra.tokens';

/**
 * S3 credentials for the caller's API key, for any S3 client (AWS SDK, boto3, mc) to read the
 * organisation's packages and outputs from the built-in endpoint. Derived, not stored: revoking the
 * API key revokes them.
 */
@ApiTags('storage')
@ApiBearerAuth()
@Controller('api/auth/s3-credentials')
export class S3CredentialsController {
  constructor(@Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {}

  @Get()
  get(@CurrentPrincipal() p: Principal, @Req() req: Request) {
    const accessKeyId = apiKeyAccessKeyId(p.apiKeyId);
    const base = (this.env.PUBLIC_URL ?? `${req.protocol}://${req.headers.host}`).replace(/\/$/, '');
    return {
      endpoint: `${base}/api/cloud/storage`,
      region: this.env.S3_REGION,
      force_path_style: true,
      access_key_id: accessKeyId,
      secret_access_key: deriveSecret(storageMasterKey(this.env), accessKeyId),
      buckets: { datasets: `${BUCKETS.datasets}/${p.orgId}/`, outputs: `${BUCKETS.outputs}/${p.orgId}/` },
    };
  }
}

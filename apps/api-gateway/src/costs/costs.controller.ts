import { Controller, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { costEstimateSchema, submitJobBodySchema, type CostEstimateView, type SubmitJobBody } from '@ct/contracts';
import type { Principal } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { CurrentPrincipal } from '../common/auth';
import { ApiJson, ApiProblems, ZodBody } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { CostEstimator } from './cost-estimator';

/** What a job will cost, before it is submitted. */
@ApiTags('costs')
@ApiKeyAuth()
@Controller('api/cloud')
export class CostsController {
  constructor(private readonly estimator: CostEstimator, private readonly registry: ProviderRegistry) {}

  @Post('cost-estimate')
  @ApiOperation({ summary: 'The expected run time and cost of a submission (same body), with its range and basis; nothing is created' })
  @ApiJson(200, costEstimateSchema, 'the estimate (`estimate` null, with a `reason`, when nothing fits)')
  @ApiProblems('provider_unknown', 'provider_unavailable')
  async estimate(@CurrentPrincipal() p: Principal, @ZodBody(submitJobBodySchema, 'job submission') body: SubmitJobBody): Promise<CostEstimateView> {
    const provider = this.registry.definition(body.provider ?? 'local').name;
    return (await this.estimator.estimate(p.orgId, provider, { config: body.config, hardwareProfile: body.hardware_profile ?? null })).view;
  }
}

import { Controller, Get, Inject, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, NotFoundError } from '@ct/job-domain';
import type { GatewayEnv } from '@ct/config';
import {
  jobIdSchema, jobPriorityBodySchema, jobSchema, putSchedulingSettingsBodySchema, queuePositionSchema, schedulingSettingsSchema,
  type JobPriorityBody, type JobView, type PutSchedulingSettingsBody, type QueuePositionView, type SchedulingSettingsView,
} from '@ct/contracts';
import { SchedulingRepository, type ConcurrencySettings, type Principal } from '@ct/persistence';
import { ProviderRegistry } from '@ct/providers-core';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { GATEWAY_ENV } from '../infra.tokens';
import { jobView } from '../jobs/job.view';
import { ApiAuthProblems, ApiJson, ApiProblems, ZodBody, ZodParam } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';

/** Priorities and concurrency limits: the organisation's settings, a waiting job's priority, its place in the queue. */
@ApiTags('scheduling')
@ApiKeyAuth()
@Controller('api')
export class SchedulingController {
  constructor(
    private readonly scheduling: SchedulingRepository,
    private readonly registry: ProviderRegistry,
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
  ) {}

  private view(s: ConcurrencySettings): SchedulingSettingsView {
    return { default_priority: s.defaultPriority, concurrency: s.limits.map((l) => ({ provider: l.provider, max_jobs: l.maxJobs })), deployment_concurrency: this.env.PROVIDER_CONCURRENCY };
  }

  @Get('cloud/scheduling')
  @ApiOperation({ summary: "The organisation's default priority and concurrency limits" })
  @ApiJson(200, schedulingSettingsSchema, 'the settings')
  @ApiProblems()
  async get(@CurrentPrincipal() p: Principal): Promise<SchedulingSettingsView> {
    return this.view(await this.scheduling.settings(p.orgId));
  }

  @Put('cloud/scheduling')
  @AdminOnly()
  @ApiAuthProblems('forbidden')
  @ApiOperation({ summary: "Replace the organisation's default priority and concurrency limits (per provider, or `*` for all)" })
  @ApiJson(200, schedulingSettingsSchema, 'the settings now')
  @ApiProblems('provider_unknown')
  async put(@CurrentPrincipal() p: Principal, @ZodBody(putSchedulingSettingsBodySchema, 'scheduling settings') body: PutSchedulingSettingsBody): Promise<SchedulingSettingsView> {
    for (const l of body.concurrency) if (l.provider !== '*') this.registry.definition(l.provider);
    if (new Set(body.concurrency.map((l) => l.provider)).size !== body.concurrency.length) throw new DomainError('validation_failed', 'One concurrency limit per provider.', { field: 'concurrency' });
    return this.view(await this.scheduling.replaceSettings(p.orgId, { defaultPriority: body.default_priority, limits: body.concurrency.map((l) => ({ provider: l.provider, maxJobs: l.max_jobs })) }));
  }

  @Post('cloud/jobs/:id/priority')
  @ApiOperation({ summary: 'Change the priority of a job that has not been handed to its provider yet' })
  @ApiJson(200, jobSchema, 'the job')
  @ApiProblems('not_found', 'job_not_waiting')
  async priority(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string, @ZodBody(jobPriorityBodySchema, 'priority') body: JobPriorityBody): Promise<JobView> {
    return jobView(await this.scheduling.setPriority(p.orgId, id, body.priority, p.apiKeyId));
  }

  @Get('queue/position/:id')
  @ApiOperation({ summary: "A job's place in its provider's queue, the slots, and an estimated wait" })
  @ApiJson(200, queuePositionSchema, 'the position')
  @ApiProblems('not_found')
  async position(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string): Promise<QueuePositionView> {
    const pos = await this.scheduling.position(p.orgId, id);
    if (!pos) throw new NotFoundError('Job', id);
    let wait: number | null = null;
    if (pos.position !== null && pos.limit !== null) {
      const median = await this.scheduling.medianRunSeconds(p.orgId, pos.provider);
      if (median !== null) wait = Math.round(Math.ceil(pos.position / pos.limit) * median);
    }
    return { job_id: id, status: pos.status, provider: pos.provider, position: pos.position, waiting: pos.waiting, slots_in_use: pos.inUse, slots: pos.limit, reason: pos.reason, estimated_wait_seconds: wait };
  }
}

import { Controller, Get, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@ct/job-domain';
import {
  consentPreviewAnswerSchema, consentPreviewBodySchema, consentSettingSchema, jobConsentBodySchema, jobIdSchema, jobSchema, putConsentSettingBodySchema,
  type ConsentPreviewBody, type ConsentSettingView, type JobConsentBody, type JobView, type PutConsentSettingBody,
} from '@ct/contracts';
import { ConsentRepository, type ConsentSetting, type Principal } from '@ct/persistence';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { jobView } from '../jobs/job.view';
import { ApiAuthProblems, ApiJson, ApiProblems, ZodBody, ZodParam } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { ConsentService } from './consent.service';

const settingView = (s: ConsentSetting): ConsentSettingView => ({ mode: s.mode, timeout_seconds: s.timeoutSeconds });

/** Consent before upload (MISSION §3): the organisation's mode, a preview of what would leave, and the answer to a waiting job. */
@ApiTags('consent')
@ApiKeyAuth()
@Controller('api/cloud')
export class ConsentController {
  constructor(private readonly consent: ConsentRepository, private readonly service: ConsentService) {}

  @Get('data-consent/setting')
  @ApiOperation({ summary: "The organisation's data-consent setting" })
  @ApiJson(200, consentSettingSchema, 'the setting')
  @ApiProblems()
  async getSetting(@CurrentPrincipal() p: Principal): Promise<ConsentSettingView> {
    return settingView(await this.consent.setting(p.orgId));
  }

  @Put('data-consent/setting')
  @AdminOnly()
  @ApiAuthProblems('forbidden')
  @ApiOperation({ summary: "Change the organisation's data-consent setting (a patch); it applies to jobs not yet packaged" })
  @ApiJson(200, consentSettingSchema, 'the setting now')
  @ApiProblems()
  async putSetting(@CurrentPrincipal() p: Principal, @ZodBody(putConsentSettingBodySchema, 'data-consent setting') body: PutConsentSettingBody): Promise<ConsentSettingView> {
    return settingView(await this.consent.putSetting(p.orgId, { mode: body.mode, timeoutSeconds: body.timeout_seconds }));
  }

  @Post('data-consent/preview')
  @ApiOperation({ summary: 'What a submission of this dataloader would upload: per dataset the path, files, bytes and what is left out, and the digest to consent with' })
  @ApiJson(200, consentPreviewAnswerSchema, 'the preview')
  @ApiProblems('provider_unknown', 'dataset_path_outside_roots', 'dataset_path_missing', 'dataset_path_unreadable', 'dataset_symlink_escape', 'dataset_path_invalid')
  preview(@CurrentPrincipal() p: Principal, @ZodBody(consentPreviewBodySchema, 'consent preview') body: ConsentPreviewBody) {
    return this.service.preview(p, body);
  }

  @Post('jobs/:id/consent')
  @ApiOperation({ summary: 'Confirm (with the digest of the summary shown) or decline the upload a job waits for' })
  @ApiJson(200, jobSchema, 'the job: `pending` again (it is packaged now) or `cancelled`')
  @ApiProblems('not_found', 'consent_not_awaited', 'consent_digest_mismatch')
  async answer(@CurrentPrincipal() p: Principal, @ZodParam('id', jobIdSchema, 'job id') id: string, @ZodBody(jobConsentBodySchema, 'consent') body: JobConsentBody): Promise<JobView> {
    if (body.decision === 'decline') return jobView(await this.consent.decline(p.orgId, id, p.apiKeyId));
    if (!body.digest) throw new DomainError('validation_failed', 'To confirm, send the `digest` of the consent request you showed (the job\'s `consent_request.digest`).');
    return jobView(await this.consent.confirm(p.orgId, id, body.digest, p.apiKeyId));
  }
}

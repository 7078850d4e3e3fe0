import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@ct/persistence';
import { listHardwareOptions, priceOverridesOf, replicateSettingsSchema } from '@ct/providers-replicate';
import { z } from 'zod';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { ReplicateService } from './replicate.service';

const putConfigBody = replicateSettingsSchema.partial().extend({ token: z.string().min(8).max(500).nullable().optional() }).strict();

@ApiTags('providers')
@ApiBearerAuth()
@Controller('api/cloud')
export class ProvidersController {
  constructor(private readonly replicate: ReplicateService) {}

  @Get('providers')
  async list(@CurrentPrincipal() p: Principal) {
    const { source } = await this.replicate.token(p.orgId);
    const caps = (c: object) => c;
    return {
      providers: [
        { name: 'local', label: 'This machine', available: true, configured: true, capabilities: caps({ costTracking: false, liveLogs: true, webhooks: false, maxUploadBytes: null }) },
        { name: 'worker', label: 'Self-hosted workers', available: true, configured: true, capabilities: caps({ costTracking: false, liveLogs: true, webhooks: false, maxUploadBytes: null }) },
        { name: 'replicate', label: 'Replicate', available: true, configured: source !== null, capabilities: caps({ costTracking: true, liveLogs: true, webhooks: true, maxUploadBytes: 99_999_999 }) },
        { name: 'simpletuner.io', label: 'SimpleTuner.io', available: false, configured: false, status: 'coming soon', capabilities: {} },
      ],
    };
  }

  @Get('providers/replicate/config')
  async getConfig(@CurrentPrincipal() p: Principal) {
    const { settings } = await this.replicate.forOrg(p.orgId);
    const { source } = await this.replicate.token(p.orgId);
    return { ...settings, token_configured: source !== null, token_source: source, webhook_url: this.webhookUrl() };
  }

  @Put('providers/replicate/config')
  @AdminOnly()
  async putConfig(@CurrentPrincipal() p: Principal, @Body(new ZodPipe(putConfigBody, 'Replicate configuration')) body: z.infer<typeof putConfigBody>) {
    const { token, ...rest } = body;
    const current = (await this.replicate.forOrg(p.orgId)).settings;
    const next = replicateSettingsSchema.parse({ ...current, ...rest });
    await this.replicate.settings.put(p.orgId, 'replicate', next, token);
    this.replicate.invalidate(p.orgId);
    return this.getConfig(p);
  }

  @Get('providers/replicate/validate')
  async validate(@CurrentPrincipal() p: Principal) {
    const { plugin } = await this.replicate.forOrg(p.orgId);
    return plugin.validateCredentials();
  }

  @Get('hardware-options')
  async hardware(@CurrentPrincipal() p: Principal) {
    const { settings } = await this.replicate.forOrg(p.orgId);
    return { provider: 'replicate', options: listHardwareOptions(priceOverridesOf(settings)) };
  }

  private webhookUrl(): string | null {
    return this.replicate.env.PUBLIC_URL ? `${this.replicate.env.PUBLIC_URL.replace(/\/$/, '')}/api/webhooks/replicate` : null;
  }
}

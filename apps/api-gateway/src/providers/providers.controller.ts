import { Body, Controller, Get, Inject, Param, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@ct/job-domain';
import type { GatewayEnv } from '@ct/config';
import type { Principal } from '@ct/persistence';
import { ProviderRegistry, type ProviderDefinition } from '@ct/providers-core';
import { z } from 'zod';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { GATEWAY_ENV } from '../infra.tokens';

const nameParam = new ZodPipe(z.string().min(1).max(50).regex(/^[a-z0-9.-]+$/, 'not a provider name'), 'provider name');
const hardwareQuery = z.object({ provider: z.string().min(1).max(50).optional() }).strict();
const secretField = z.string().min(8).max(500).nullable().optional();

/** Providers as each organisation configured them: generic over the catalog, no provider named here. */
@ApiTags('providers')
@ApiBearerAuth()
@Controller('api/cloud')
export class ProvidersController {
  constructor(private readonly registry: ProviderRegistry, @Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {}

  @Get('providers')
  async list(@CurrentPrincipal() p: Principal) {
    return { providers: await Promise.all(this.registry.definitions().map((d) => this.describe(p.orgId, d))) };
  }

  @Get('providers/:name')
  describeOne(@CurrentPrincipal() p: Principal, @Param('name', nameParam) name: string) {
    return this.describe(p.orgId, this.registry.definition(name));
  }

  @Get('providers/:name/config')
  async getConfig(@CurrentPrincipal() p: Principal, @Param('name', nameParam) name: string) {
    const def = this.registry.definition(name);
    const { settings, secretSource } = await this.registry.settingsOf(p.orgId, name);
    return {
      ...settings,
      ...(def.secret ? { token_configured: secretSource !== null, token_source: secretSource } : {}),
      webhook_url: def.capabilities.webhooks && this.env.PUBLIC_URL ? `${this.env.PUBLIC_URL.replace(/\/$/, '')}/api/webhooks/${name}` : null,
    };
  }

  /** Settings are merged over the current ones; a new `token` is checked with the provider before it is stored. */
  @Put('providers/:name/config')
  @AdminOnly()
  async putConfig(@CurrentPrincipal() p: Principal, @Param('name', nameParam) name: string, @Body() raw: unknown) {
    const def = this.registry.definition(name);
    const schema = def.settingsSchema instanceof z.ZodObject ? def.settingsSchema.partial() : z.object({});
    const body = new ZodPipe(def.secret ? schema.extend({ token: secretField }).strict() : schema.strict(), `${def.label} configuration`).transform(raw) as Record<string, unknown>;
    const { token, ...patch } = body;
    if (token !== undefined && !def.secret) throw new DomainError('validation_failed', `${def.label} takes no token.`);
    await this.registry.configure(p.orgId, name, patch, token as string | null | undefined);
    return this.getConfig(p, name);
  }

  @Get('providers/:name/validate')
  async validate(@CurrentPrincipal() p: Principal, @Param('name', nameParam) name: string) {
    return (await this.registry.forOrg(p.orgId, name)).validateCredentials();
  }

  /** Hardware profiles with their prices, of one provider (`?provider=`) or of every provider that has some. */
  @Get('hardware-options')
  async hardware(@CurrentPrincipal() p: Principal, @Query(new ZodPipe(hardwareQuery, 'query')) q: z.infer<typeof hardwareQuery>) {
    const names = q.provider ? [this.registry.definition(q.provider).name] : this.registry.names((d) => !d.comingSoon);
    const all = await Promise.all(names.map(async (name) => ({ provider: name, options: (await this.registry.forOrg(p.orgId, name)).hardware() })));
    const withHardware = all.filter((x) => x.options.length > 0 || q.provider);
    // One provider: its own list at the top level, as before; several: one entry each.
    return withHardware.length === 1 && withHardware[0] ? { ...withHardware[0], providers: withHardware } : { providers: withHardware };
  }

  private async describe(orgId: string, d: ProviderDefinition) {
    if (d.comingSoon) return { name: d.name, label: d.label, available: false, configured: false, status: 'coming soon', capabilities: d.capabilities };
    const { secretSource } = await this.registry.settingsOf(orgId, d.name);
    const plugin = await this.registry.forOrg(orgId, d.name);
    return {
      name: d.name,
      label: d.label,
      available: true,
      configured: !d.secret || secretSource !== null,
      capabilities: plugin.capabilities,
      settings_schema: z.toJSONSchema(d.settingsSchema, { io: 'input', unrepresentable: 'any' }),
      ...(d.secret ? { secret: { label: d.secret.label, env_var: d.secret.envVar ?? null } } : {}),
    };
  }
}

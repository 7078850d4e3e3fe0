import { Controller, Get, Inject, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@ct/job-domain';
import type { GatewayEnv } from '@ct/config';
import {
  credentialCheckSchema, hardwareOptionsSchema, hardwareQuerySchema, providerConfigBodySchema, providerConfigSchema, providerListSchema,
  providerNameParamSchema, providerSchema, providerTokenSchema,
  type HardwareOptions, type HardwareQuery, type ProviderConfigView, type ProviderView,
} from '@ct/contracts';
import type { Principal } from '@ct/persistence';
import { ProviderRegistry, type ProviderDefinition } from '@ct/providers-core';
import { z } from 'zod';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { GATEWAY_ENV } from '../infra.tokens';
import { ApiAuthProblems, ApiJson, ApiProblems, ZodBody, ZodParam, ZodQuery } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';

/** Providers as each organisation configured them: generic over the catalog, no provider named here. */
@ApiTags('providers')
@ApiKeyAuth()
@Controller('api/cloud')
export class ProvidersController {
  constructor(private readonly registry: ProviderRegistry, @Inject(GATEWAY_ENV) private readonly env: GatewayEnv) {}

  @Get('providers')
  @ApiOperation({ summary: 'Every provider of the catalog, as this organisation configured it' })
  @ApiJson(200, providerListSchema, 'the providers')
  @ApiProblems()
  async list(@CurrentPrincipal() p: Principal) {
    return { providers: await Promise.all(this.registry.definitions().map((d) => this.describe(p.orgId, d))) };
  }

  @Get('providers/:name')
  @ApiOperation({ summary: 'One provider: capabilities, whether it is configured, the JSON Schema of its settings' })
  @ApiJson(200, providerSchema, 'the provider')
  @ApiProblems('provider_unknown')
  describeOne(@CurrentPrincipal() p: Principal, @ZodParam('name', providerNameParamSchema, 'provider name') name: string) {
    return this.describe(p.orgId, this.registry.definition(name));
  }

  @Get('providers/:name/config')
  @ApiOperation({ summary: "The organisation's settings of a provider (never its secret)" })
  @ApiJson(200, providerConfigSchema, 'the settings, defaults filled in')
  @ApiProblems('provider_unknown')
  async getConfig(@CurrentPrincipal() p: Principal, @ZodParam('name', providerNameParamSchema, 'provider name') name: string): Promise<ProviderConfigView> {
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
  @ApiAuthProblems('forbidden')
  @ApiOperation({ summary: "Change the organisation's settings of a provider (a patch) and its secret (`token`, checked with the provider first)" })
  @ApiJson(200, providerConfigSchema, 'the settings now')
  @ApiProblems('provider_unknown', 'provider_credentials_invalid')
  async putConfig(
    @CurrentPrincipal() p: Principal,
    @ZodParam('name', providerNameParamSchema, 'provider name') name: string,
    @ZodBody(providerConfigBodySchema, 'configuration') raw: Record<string, unknown>,
  ): Promise<ProviderConfigView> {
    const def = this.registry.definition(name);
    // The document can only say "an object"; the provider's own schema is the real check.
    const schema = def.settingsSchema instanceof z.ZodObject ? def.settingsSchema.partial() : z.object({});
    const body = new ZodPipe(def.secret ? schema.extend({ token: providerTokenSchema }).strict() : schema.strict(), `${def.label} configuration`).transform(raw) as Record<string, unknown>;
    const { token, ...patch } = body;
    if (token !== undefined && !def.secret) throw new DomainError('validation_failed', `${def.label} takes no token.`);
    await this.registry.configure(p.orgId, name, patch, token as string | null | undefined);
    return this.getConfig(p, name);
  }

  @Get('providers/:name/validate')
  @ApiOperation({ summary: "Check the organisation's credentials with the provider" })
  @ApiJson(200, credentialCheckSchema, 'whether the provider accepted them')
  @ApiProblems('provider_unknown', 'provider_unavailable', 'provider_not_configured', 'provider_error')
  async validate(@CurrentPrincipal() p: Principal, @ZodParam('name', providerNameParamSchema, 'provider name') name: string) {
    return (await this.registry.forOrg(p.orgId, name)).validateCredentials();
  }

  @Get('hardware-options')
  @ApiOperation({ summary: 'Hardware profiles with their prices, of one provider (`?provider=`) or of every provider that has some' })
  @ApiJson(200, hardwareOptionsSchema, 'the profiles')
  @ApiProblems('provider_unknown')
  async hardware(@CurrentPrincipal() p: Principal, @ZodQuery(hardwareQuerySchema) q: HardwareQuery): Promise<HardwareOptions> {
    const names = q.provider ? [this.registry.definition(q.provider).name] : this.registry.names((d) => !d.comingSoon);
    // Spread: HardwareOption is an interface, without the index signature of the schema's type (a plugin may add fields of its own).
    const all = await Promise.all(names.map(async (name) => ({ provider: name, options: (await this.registry.forOrg(p.orgId, name)).hardware().map((o) => ({ ...o })) })));
    const withHardware = all.filter((x) => x.options.length > 0 || q.provider);
    // One provider: its own list at the top level, as before; several: one entry each.
    return withHardware.length === 1 && withHardware[0] ? { ...withHardware[0], providers: withHardware } : { providers: withHardware };
  }

  private async describe(orgId: string, d: ProviderDefinition): Promise<ProviderView> {
    if (d.comingSoon) return { name: d.name, label: d.label, available: false, configured: false, status: 'coming soon', capabilities: d.capabilities };
    const { secretSource } = await this.registry.settingsOf(orgId, d.name);
    const plugin = await this.registry.forOrg(orgId, d.name);
    return {
      name: d.name,
      label: d.label,
      available: true,
      configured: !d.secret || secretSource !== null,
      capabilities: plugin.capabilities,
      settings_schema: z.toJSONSchema(d.settingsSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
      ...(d.secret ? { secret: { label: d.secret.label, env_var: d.secret.envVar ?? null } } : {}),
    };
  }
}

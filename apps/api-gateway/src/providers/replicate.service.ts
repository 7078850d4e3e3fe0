import { Inject, Injectable } from '@nestjs/common';
import { storageMasterKey, type GatewayEnv } from '@ct/config';
import { PrismaClient, ProviderSettingsRepository, SecretBox, WebhookDeliveryRepository } from '@ct/persistence';
import { ReplicatePlugins, replicateTokenOf, type ReplicatePlugin, type ReplicateSettings } from '@ct/providers-replicate';
import { GATEWAY_ENV } from '../infra.tokens';

/** Replicate as each organisation configured it, for the gateway's provider endpoints and webhook receiver. */
@Injectable()
export class ReplicateService {
  readonly settings: ProviderSettingsRepository;
  readonly deliveries: WebhookDeliveryRepository;
  private readonly plugins: ReplicatePlugins;

  constructor(@Inject(GATEWAY_ENV) readonly env: GatewayEnv, readonly prisma: PrismaClient) {
    this.settings = new ProviderSettingsRepository(prisma, new SecretBox(storageMasterKey(env)));
    this.deliveries = new WebhookDeliveryRepository(prisma);
    this.plugins = new ReplicatePlugins({ env, prisma, settings: this.settings });
  }

  forOrg(orgId: string): Promise<{ plugin: ReplicatePlugin; settings: ReplicateSettings }> {
    return this.plugins.forOrg(orgId);
  }

  invalidate(orgId: string): void {
    this.plugins.invalidate(orgId);
  }

  token(orgId: string) {
    return replicateTokenOf(this.env, this.settings, orgId);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { storageMasterKey, type GatewayEnv } from '@ct/config';
import { PrismaClient, ProviderSettingsRepository, SecretBox, WebhookDeliveryRepository } from '@ct/persistence';
import { ReplicatePlugins, replicateTokenOf, WebhookVerifier, type ReplicatePlugin, type ReplicateSettings } from '@ct/providers-replicate';
import { GATEWAY_ENV } from '../infra.tokens';

/** Replicate as each organisation configured it, for the gateway's provider endpoints and webhook receiver. */
@Injectable()
export class ReplicateService {
  readonly settings: ProviderSettingsRepository;
  readonly deliveries: WebhookDeliveryRepository;
  private readonly plugins: ReplicatePlugins;
  private readonly verifiers = new Map<string, WebhookVerifier>();

  constructor(@Inject(GATEWAY_ENV) readonly env: GatewayEnv, readonly prisma: PrismaClient) {
    this.settings = new ProviderSettingsRepository(prisma, new SecretBox(storageMasterKey(env)));
    this.deliveries = new WebhookDeliveryRepository(prisma);
    this.plugins = new ReplicatePlugins({ env, prisma, settings: this.settings });
  }

  forOrg(orgId: string): Promise<{ plugin: ReplicatePlugin; settings: ReplicateSettings }> {
    return this.plugins.forOrg(orgId);
  }

  /**
   * One verifier per organisation for the life of the process, so the signing secret is fetched once per
   * five minutes (and again at once, rate-limited, if a signature stops matching after a rotation), not
   * once per delivery. It fetches through the organisation's current plugin, so a new token is picked up.
   */
  webhookVerifier(orgId: string): WebhookVerifier {
    let v = this.verifiers.get(orgId);
    if (!v) {
      v = new WebhookVerifier({ getSecret: async () => (await this.forOrg(orgId)).plugin.fetchWebhookSecret() });
      this.verifiers.set(orgId, v);
    }
    return v;
  }

  invalidate(orgId: string): void {
    this.plugins.invalidate(orgId);
    this.verifiers.delete(orgId);
  }

  token(orgId: string) {
    return replicateTokenOf(this.env, this.settings, orgId);
  }
}

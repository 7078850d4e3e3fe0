import type { PrismaClient } from './prisma';
import type { SecretBox } from './secret-box';

export interface ProviderSettingsView {
  settings: Record<string, unknown>;
  hasSecret: boolean;
  updatedAt: Date | null;
}

/** Per-organisation provider settings; the secret goes in sealed and only comes out to the provider call. */
export class ProviderSettingsRepository {
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox) {}

  async get(orgId: string, provider: string): Promise<ProviderSettingsView> {
    const row = await this.prisma.providerSetting.findUnique({ where: { orgId_provider: { orgId, provider } } });
    return { settings: (row?.settings as Record<string, unknown>) ?? {}, hasSecret: !!row?.secretCiphertext, updatedAt: row?.updatedAt ?? null };
  }

  /** `secret: null` removes the stored secret; `undefined` keeps it. */
  async put(orgId: string, provider: string, settings: Record<string, unknown>, secret?: string | null): Promise<ProviderSettingsView> {
    const sealed = secret === undefined ? undefined : secret === null ? null : this.box.seal(secret);
    await this.prisma.providerSetting.upsert({
      where: { orgId_provider: { orgId, provider } },
      create: { orgId, provider, settings: settings as object, secretCiphertext: sealed ?? null },
      update: { settings: settings as object, ...(sealed !== undefined ? { secretCiphertext: sealed } : {}) },
    });
    return this.get(orgId, provider);
  }

  /**
   * A value that changes whenever these settings or the secret change (null: never stored): one indexed
   * read, for the registry's cache. It is the stored content itself, so two changes within a millisecond
   * still differ.
   */
  async version(orgId: string, provider: string): Promise<string | null> {
    const row = await this.prisma.providerSetting.findUnique({ where: { orgId_provider: { orgId, provider } }, select: { settings: true, secretCiphertext: true } });
    return row ? `${JSON.stringify(row.settings)}|${row.secretCiphertext ?? ''}` : null;
  }

  async secret(orgId: string, provider: string): Promise<string | null> {
    const row = await this.prisma.providerSetting.findUnique({ where: { orgId_provider: { orgId, provider } } });
    return row?.secretCiphertext ? this.box.open(row.secretCiphertext) : null;
  }
}

/** Inbound webhook deliveries: the replay guard (unique webhook id) and the record of rejections. */
export class WebhookDeliveryRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Records a delivery; returns false when this webhook id was already accepted (a replay). */
  async record(d: { provider: string; webhookId: string | null; orgId?: string | null; jobId?: string | null; accepted: boolean; reason: string }): Promise<boolean> {
    try {
      await this.prisma.webhookDelivery.create({ data: { ...d, webhookId: d.accepted ? d.webhookId : null } });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') return false;
      throw err;
    }
  }

  /** Drops an accepted delivery whose effect could not be applied, so the provider's retry is not taken for a replay. */
  async forget(provider: string, webhookId: string): Promise<void> {
    await this.prisma.webhookDelivery.deleteMany({ where: { provider, webhookId, accepted: true } });
  }

  async seen(provider: string, webhookId: string): Promise<boolean> {
    return (await this.prisma.webhookDelivery.count({ where: { provider, webhookId } })) > 0;
  }

  /** When the job received its latest verified (accepted) webhooks from this provider, newest first. */
  async recentAcceptedAt(provider: string, jobId: string, limit = 8): Promise<Date[]> {
    const rows = await this.prisma.webhookDelivery.findMany({ where: { provider, jobId, accepted: true }, orderBy: { receivedAt: 'desc' }, take: limit, select: { receivedAt: true } });
    return rows.map((r) => r.receivedAt);
  }

  /**
   * Rejected deliveries an organisation has had recently: the receiver stops recording rejections past a
   * bound (they are still counted in metrics), so a flood of junk cannot fill the table.
   */
  async recentRejections(orgId: string, withinMs: number): Promise<number> {
    return this.prisma.webhookDelivery.count({ where: { orgId, accepted: false, receivedAt: { gt: new Date(Date.now() - withinMs) } } });
  }

  /** Deliveries older than `olderThanMs` (the replay guard needs only the signature tolerance, minutes). */
  async prune(olderThanMs: number): Promise<number> {
    const { count } = await this.prisma.webhookDelivery.deleteMany({ where: { receivedAt: { lt: new Date(Date.now() - olderThanMs) } } });
    return count;
  }

  recent(provider: string, limit = 50) {
    return this.prisma.webhookDelivery.findMany({ where: { provider }, orderBy: { id: 'desc' }, take: limit });
  }
}

import { Injectable } from '@nestjs/common';
import { DomainError, decideConsent } from '@ct/job-domain';
import type { ConsentPreviewAnswer, ConsentPreviewBody, ConsentPreviewView } from '@ct/contracts';
import { ConsentRepository, type Principal } from '@ct/persistence';
import { consentPreviewOf, localDatasetsOf, planDataloader } from '@ct/packaging';
import { DatasetRoots } from '@ct/service';
import { ProviderRegistry, type ProviderPlugin } from '@ct/providers-core';

/**
 * Consent before upload, as the gateway sees it: the preview a client shows (scanned by the packager's own
 * rules, so its digest is the one the packager will compute), and the `deny` refusal at submission, before
 * a job exists. Holding a job for an answer is the packager's, after its scan.
 */
@Injectable()
export class ConsentService {
  constructor(private readonly consent: ConsentRepository, private readonly registry: ProviderRegistry, private readonly roots: DatasetRoots) {}

  async preview(p: Principal, body: ConsentPreviewBody): Promise<ConsentPreviewAnswer> {
    const provider = this.registry.definition(body.provider ?? 'local').name;
    const plugin = await this.registry.forOrg(p.orgId, provider);
    const setting = await this.consent.setting(p.orgId);
    const plan = await planDataloader(body.dataloader_config, await this.roots.of(p.orgId));
    const preview = consentPreviewOf(provider, plan) as ConsentPreviewView;
    const decision = decideConsent({
      mode: setting.mode, provider, applies: plugin.capabilities.dataLeavesInfrastructure,
      files: preview.files, bytes: preview.bytes, digest: preview.digest, consentedDigest: null,
    });
    return { mode: setting.mode, required: decision.action === 'hold', refused: decision.action === 'refuse', preview };
  }

  /** `deny`: a submission that would upload local data to a provider outside the infrastructure never becomes a job. */
  async assertSubmittable(orgId: string, plugin: ProviderPlugin, dataloader: readonly unknown[]): Promise<void> {
    if (!plugin.capabilities.dataLeavesInfrastructure || localDatasetsOf(dataloader).length === 0) return;
    const { mode } = await this.consent.setting(orgId);
    if (mode !== 'deny') return;
    throw new DomainError(
      'consent_denied',
      `This organisation's data-consent setting is "deny": local datasets are never uploaded to ${plugin.name}. Run the job on your own workers (provider "worker" or "local"), or ask an admin to change the setting (PUT /api/cloud/data-consent/setting).`,
      { provider: plugin.name },
    );
  }
}

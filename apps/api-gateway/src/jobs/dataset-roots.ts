import { Inject, Injectable } from '@nestjs/common';
import { datasetRootsFor, type GatewayEnv } from '@ct/config';
import { OrgRepository } from '@ct/persistence';
import { GATEWAY_ENV } from '../infra.tokens';

/** The organisation's server-side dataset folders (DATASET_ROOTS for the default one, ORG_DATASET_ROOTS for the rest). */
@Injectable()
export class DatasetRoots {
  private readonly slugs = new Map<string, string>();

  constructor(@Inject(GATEWAY_ENV) private readonly env: GatewayEnv, private readonly orgs: OrgRepository) {}

  async of(orgId: string): Promise<string[]> {
    let slug = this.slugs.get(orgId);
    if (slug === undefined) {
      // An organisation's slug never changes: read it once per process.
      slug = (await this.orgs.findOrg(orgId))?.slug ?? '';
      if (slug) this.slugs.set(orgId, slug);
    }
    return slug ? datasetRootsFor(this.env, slug) : [];
  }
}

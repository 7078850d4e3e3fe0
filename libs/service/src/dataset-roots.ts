import { datasetRootsFor } from '@ct/config';
import type { OrgRepository } from '@ct/persistence';

/**
 * An organisation's server-side dataset folders (DATASET_ROOTS for the default one, ORG_DATASET_ROOTS for
 * the rest), for every service that checks or reads them (the gateway at submission and preview, the packager).
 */
export class DatasetRoots {
  private readonly slugs = new Map<string, string>();

  constructor(private readonly env: { DATASET_ROOTS: string[]; ORG_DATASET_ROOTS: Record<string, string[]> }, private readonly orgs: OrgRepository) {}

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

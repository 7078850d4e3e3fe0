import type { ApiKey, Organization } from './generated/prisma/client';
import type { PrismaClient } from './prisma';
import { generateToken, hashToken } from './tokens';

export type { ApiKey, Organization };

export interface Principal {
  orgId: string;
  apiKeyId: string;
  role: string;
}

/** Organisations and their API keys. */
export class OrgRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async createOrg(name: string, slug: string): Promise<Organization> {
    return this.prisma.organization.create({ data: { name, slug } });
  }

  findOrg(id: string): Promise<Organization | null> {
    return this.prisma.organization.findUnique({ where: { id } });
  }

  findOrgBySlug(slug: string): Promise<Organization | null> {
    return this.prisma.organization.findUnique({ where: { slug } });
  }

  /** Returns the plaintext key once; only its hash is stored. */
  async createApiKey(orgId: string, name: string, role: 'admin' | 'member'): Promise<{ key: ApiKey; token: string }> {
    const { token, prefix } = generateToken('ctk');
    const key = await this.prisma.apiKey.create({ data: { orgId, name, role, prefix, hash: hashToken(token) } });
    return { key, token };
  }

  async authenticate(token: string): Promise<Principal | null> {
    const key = await this.prisma.apiKey.findUnique({ where: { hash: hashToken(token) } });
    if (!key || key.revokedAt) return null;
    return { orgId: key.orgId, apiKeyId: key.id, role: key.role };
  }

  findApiKey(id: string): Promise<ApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  /**
   * First start: creates the default organisation and its admin key, once, even when several gateways
   * start together (the unique slug decides; the losers get null).
   */
  async bootstrapDefault(): Promise<{ org: Organization; token: string } | null> {
    if (await this.findOrgBySlug('default')) return null;
    try {
      return await this.prisma.$transaction(async (tx) => {
        const org = await tx.organization.create({ data: { name: 'Default organisation', slug: 'default' } });
        const { token, prefix } = generateToken('ctk');
        await tx.apiKey.create({ data: { orgId: org.id, name: 'admin (created at first start)', role: 'admin', prefix, hash: hashToken(token) } });
        return { org, token };
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') return null;
      throw err;
    }
  }
}

import type { NewJob, PrismaClient } from '@ct/persistence';
import { OrgRepository } from '@ct/persistence';
import { randomBytes } from 'node:crypto';

export async function makeOrg(prisma: PrismaClient, name = 'Test org', slug = `org-${randomBytes(4).toString('hex')}`): Promise<{ orgId: string; token: string; keyId: string }> {
  const orgs = new OrgRepository(prisma);
  const org = await orgs.createOrg(name, slug);
  const { key, token } = await orgs.createApiKey(org.id, 'test key', 'admin');
  return { orgId: org.id, token, keyId: key.id };
}

export function newJobInput(orgId: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    orgId,
    createdByKeyId: null,
    name: 'test job',
    type: 'training',
    provider: 'worker',
    config: { max_train_steps: 10 },
    dataloader: [],
    requirements: { labels: [] },
    hardwareProfile: null,
    idempotencyKey: null,
    maxRequeues: 1,
    ...overrides,
  };
}

import { z } from 'zod';
import { createLogger } from '@ct/logging';
import { createPrismaClient, JobRepository, JobTracker, ProviderSettingsRepository, SchedulingRepository, SecretBox, type PrismaClient } from '@ct/persistence';
import { ProviderRegistry, type ProviderDefinition, type ProviderPlugin, type RunResult } from '@ct/providers-core';
import { RetryLaterError } from '@ct/queue';
import { createTestDatabase, makeOrg, newJobInput } from '@ct/testing';
import { DispatchJobUseCase } from './dispatch-job.use-case';

/** A provider whose runJob waits until the test lets it go, counting how often it was called. */
function slowProvider(): { definition: ProviderDefinition; calls: () => number; release: () => void } {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const capabilities = { costTracking: false, liveLogs: false, webhooks: false, maxUploadBytes: null, uploadsPackage: false, workerClaimed: false, polled: false, dataLeavesInfrastructure: false };
  const plugin: ProviderPlugin = {
    name: 'slow', capabilities,
    validateCredentials: async () => ({ ok: true }), listJobs: async () => [], cancelJob: async () => undefined,
    getJobStatus: async () => null, getJobLogs: async () => [], prepare: async (i) => i, hardware: () => [], costBasis: () => ({ hardwareProfile: null, gpuCount: null, microsPerHour: 0n, defaults: null }),
    runJob: async (): Promise<RunResult> => {
      calls++;
      await gate;
      return { status: 'queued', externalId: null, reason: 'handed to the slow provider' };
    },
  };
  return { definition: { name: 'slow', label: 'Slow', capabilities, settingsSchema: z.object({}), create: () => plugin }, calls: () => calls, release };
}

describe('dispatch: two dispatchers given the same job', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url, 6);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  it('hand it to the provider once: the second finds the step claimed and waits instead of calling it again', async () => {
    const { orgId } = await makeOrg(prisma);
    const { job } = await new JobRepository(prisma).create(newJobInput(orgId, { provider: 'slow' }));
    const tracker = new JobTracker(prisma);
    await tracker.transition({ orgId, jobId: job.id, to: 'packaging', reason: 'test' });
    await prisma.job.update({ where: { id: job.id }, data: { rewrittenDataloader: [] } });
    const slow = slowProvider();
    const logger = createLogger('dispatch-test', 'silent');
    const registry = new ProviderRegistry([slow.definition], { settings: new ProviderSettingsRepository(prisma, new SecretBox('k'.repeat(64))), environment: {}, logger });
    const replica = () => new DispatchJobUseCase(prisma, registry, logger, new SchedulingRepository(prisma), 5_000);

    const first = replica().execute({ v: 1, jobId: job.id, orgId }, 'bull-1');
    await new Promise<void>((resolve) => {
      const wait = () => (slow.calls() === 1 ? resolve() : setTimeout(wait, 10));
      wait();
    });
    // The second replica (a stalled item taken over, a re-drive) is told to come back when the claim runs out.
    const second = await replica().execute({ v: 1, jobId: job.id, orgId }, 'bull-2').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RetryLaterError);
    expect((second as RetryLaterError).retryAfterMs).toBeGreaterThan(0);
    slow.release();
    await first;
    expect(slow.calls()).toBe(1);
    const after = await new JobRepository(prisma).get(orgId, job.id);
    expect(after).toMatchObject({ status: 'queued', stepOwner: null, stepUntil: null });
    // Run again once it is queued: nothing left to do, the provider is not called.
    await replica().execute({ v: 1, jobId: job.id, orgId }, 'bull-3');
    expect(slow.calls()).toBe(1);
  });
});

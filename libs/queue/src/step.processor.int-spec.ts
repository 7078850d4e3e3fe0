import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { createLogger } from '@ct/logging';
import type { QueuePayload } from '@ct/contracts';
import { createRedis } from './connection';
import { RetryLaterError, StepProcessor } from './step.processor';

/** Shaped like @ct/providers-core's ProviderError (this lib may not import it): the processor reads `retryable`. */
class ProviderError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** A processor whose handler does whatever the test scripts for each attempt. */
class ScriptedProcessor extends StepProcessor<'dispatch'> {
  readonly attempts: number[] = [];
  readonly finalFailures: string[] = [];
  constructor(private readonly script: (attempt: number) => Promise<void>) {
    super('dispatch', createLogger('step-test', 'silent'), 1);
  }
  protected async handle(_p: QueuePayload<'dispatch'>, job: Job): Promise<void> {
    this.attempts.push(job.attemptsMade + 1);
    await this.script(this.attempts.length);
  }
  protected override async onFinalFailure(_p: QueuePayload<'dispatch'>, err: Error): Promise<void> {
    this.finalFailures.push(err.message);
  }
}

describe('StepProcessor on a real BullMQ queue', () => {
  const prefix = `ct-test-${randomBytes(4).toString('hex')}`;
  const connection = createRedis('redis://127.0.0.1:6379', 'worker');
  const queue = new Queue('dispatch', { connection, prefix });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  });

  async function run(processor: ScriptedProcessor, attempts: number): Promise<Job> {
    const workerConnection = createRedis('redis://127.0.0.1:6379', 'worker');
    const worker = new Worker('dispatch', (job) => processor.process(job), { connection: workerConnection, prefix });
    (processor as unknown as { _worker: Worker })._worker = worker;
    const job = await queue.add('dispatch', { v: 1, jobId: `j-${randomBytes(3).toString('hex')}`, orgId: 'o' }, { attempts, backoff: { type: 'fixed', delay: 10 } });
    try {
      for (let i = 0; i < 200; i++) {
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return (await queue.getJob(job.id ?? ''))!;
    } finally {
      await worker.close();
      workerConnection.disconnect();
    }
  }

  it('a step put off on its last attempt is not a failure: it runs again later and can still succeed', async () => {
    const p = new ScriptedProcessor(async (n) => {
      if (n === 1) throw new RetryLaterError(100, 'the gate said wait');
    });
    const job = await run(p, 1);
    expect(await job.getState()).toBe('completed');
    expect(p.attempts).toHaveLength(2);
    expect(p.finalFailures).toEqual([]);
  });

  it('a retryable provider error puts the step off without spending an attempt', async () => {
    const p = new ScriptedProcessor(async (n) => {
      if (n <= 2) throw new ProviderError('429 from the provider', true, 50);
    });
    const job = await run(p, 1);
    expect(await job.getState()).toBe('completed');
    expect(p.attempts).toHaveLength(3);
    expect(p.finalFailures).toEqual([]);
  });

  it('a permanent provider error fails the step at once (one attempt of five), and says so once', async () => {
    const p = new ScriptedProcessor(async () => {
      throw new ProviderError('422: the version does not exist', false);
    });
    const job = await run(p, 5);
    expect(await job.getState()).toBe('failed');
    expect(p.attempts).toHaveLength(1);
    expect(p.finalFailures).toEqual(['422: the version does not exist']);
  });
});

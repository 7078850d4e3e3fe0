import type { OutboxRepository } from '@ct/persistence';
import { createLogger } from '@ct/logging';
import { OutboxRelay } from './outbox-relay';
import type { QueueProducer } from './queue-producer';

/** The relay's wake-ups, on a fake outbox whose rounds last as long as the test says. */
describe('OutboxRelay wake-ups', () => {
  const setup = (minGapMs: number) => {
    let rounds = 0;
    const startedAt: number[] = [];
    let finish: (() => void) | null = null;
    const outbox = {
      relayBatch: () => {
        rounds++;
        startedAt.push(Date.now());
        return new Promise<{ published: number; failed: number }>((r) => (finish = () => r({ published: 1, failed: 0 })));
      },
    } as unknown as OutboxRepository;
    const relay = new OutboxRelay(outbox, {} as QueueProducer, { publish: async () => undefined }, createLogger('test', 'silent'), 60_000, 2_000, minGapMs);
    const endRound = async () => {
      for (let i = 0; i < 100 && !finish; i++) await new Promise((r) => setTimeout(r, 5));
      const f = finish;
      finish = null;
      f?.();
      await new Promise((r) => setTimeout(r, 0));
    };
    return { relay, rounds: () => rounds, startedAt, endRound, running: () => finish !== null };
  };

  it('folds every wake-up during a round into one more round, and then waits for the poll', async () => {
    const { relay, rounds, endRound, running } = setup(0);
    relay.start();
    await endRound(); // the round at start
    relay.wake();
    for (let i = 0; i < 100 && !running(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(rounds()).toBe(2);
    for (let i = 0; i < 50; i++) relay.wake(); // a burst of commits while the round runs
    await endRound();
    await endRound(); // the one folded round
    await new Promise((r) => setTimeout(r, 50));
    expect(rounds()).toBe(3);
    expect(running()).toBe(false); // nothing more until the next wake-up or the poll (a minute away)
    await relay.stop();
  });

  it('starts a woken round no sooner than minGapMs after the last one started', async () => {
    const { relay, rounds, startedAt, endRound, running } = setup(200);
    relay.start();
    await endRound();
    relay.wake();
    for (let i = 0; i < 100 && !running(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(rounds()).toBe(2);
    expect(startedAt[1]! - startedAt[0]!).toBeGreaterThanOrEqual(195);
    await endRound();
    await relay.stop();
  });
});

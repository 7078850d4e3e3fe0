import {
  JOB_STATUSES,
  TERMINAL_STATUSES,
  allowedTransitions,
  assertTransition,
  canTransition,
  IllegalTransitionError,
  transition,
  type JobStatus,
} from './index';

const LEGAL: Array<[JobStatus, JobStatus]> = [
  ['pending', 'packaging'],
  ['pending', 'failed'],
  ['pending', 'cancelled'],
  ['packaging', 'awaiting_consent'],
  ['packaging', 'waiting'],
  ['packaging', 'uploading'],
  ['packaging', 'queued'],
  ['packaging', 'failed'],
  ['packaging', 'cancelled'],
  ['awaiting_consent', 'pending'],
  ['awaiting_consent', 'failed'],
  ['awaiting_consent', 'cancelled'],
  ['waiting', 'uploading'],
  ['waiting', 'queued'],
  ['waiting', 'failed'],
  ['waiting', 'cancelled'],
  ['uploading', 'queued'],
  ['uploading', 'running'],
  ['uploading', 'failed'],
  ['uploading', 'cancelled'],
  ['queued', 'running'],
  ['queued', 'failed'],
  ['queued', 'cancelled'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'cancelled'],
  ['running', 'queued'],
];

describe('job state machine', () => {
  const legal = new Set(LEGAL.map(([a, b]) => `${a}->${b}`));
  const all = JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to] as [JobStatus, JobStatus]));

  it.each(LEGAL)('allows %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it.each(all.filter(([a, b]) => !legal.has(`${a}->${b}`)))('refuses %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(IllegalTransitionError);
  });

  it('has no way out of a terminal state', () => {
    for (const s of TERMINAL_STATUSES) expect(allowedTransitions(s)).toEqual([]);
  });

  it('records the reason and time of a transition', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(transition('queued', 'running', 'claimed by worker w1', at)).toEqual({
      from: 'queued',
      to: 'running',
      reason: 'claimed by worker w1',
      at,
    });
    expect(() => transition('queued', 'running', ' ')).toThrow('needs a reason');
  });

  it('can cancel from every active state', () => {
    for (const s of JOB_STATUSES.filter((x) => !TERMINAL_STATUSES.includes(x))) {
      expect(canTransition(s, 'cancelled')).toBe(true);
    }
  });
});

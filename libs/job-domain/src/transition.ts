import { IllegalTransitionError } from './domain-error';
import { canTransition, type JobStatus } from './job-status';

/** A status change as it is recorded on the job's timeline. */
export interface Transition {
  from: JobStatus;
  to: JobStatus;
  reason: string;
  at: Date;
}

export function assertTransition(from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

export function transition(from: JobStatus, to: JobStatus, reason: string, at = new Date()): Transition {
  assertTransition(from, to);
  if (reason.trim() === '') throw new Error('a transition needs a reason');
  return { from, to, reason, at };
}

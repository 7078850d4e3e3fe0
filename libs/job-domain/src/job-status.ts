/**
 * The job lifecycle. Every change of status goes through {@link assertTransition};
 * see docs/DESIGN.md (Job states) for what each state means to a user.
 */
export const JOB_STATUSES = [
  'pending',
  'packaging',
  'awaiting_consent',
  'waiting',
  'uploading',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];
export const ACTIVE_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (s) => !TERMINAL_STATUSES.includes(s),
);

const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  pending: ['packaging', 'failed', 'cancelled'],
  // packaging -> awaiting_consent: the scan found data that would leave the user's infrastructure, not yet consented to.
  // packaging -> waiting: packaged, but no concurrency slot is free (or others are ahead in the queue).
  packaging: ['awaiting_consent', 'waiting', 'uploading', 'queued', 'failed', 'cancelled'],
  // Confirmed: back to pending, and the packager scans again (a consent holds only for what was shown).
  awaiting_consent: ['pending', 'failed', 'cancelled'],
  // Admitted to a slot: handed to the provider like a job that never waited.
  waiting: ['uploading', 'queued', 'failed', 'cancelled'],
  // uploading -> running: a recovering dispatcher adopts a provider run that already started.
  uploading: ['queued', 'running', 'failed', 'cancelled'],
  // queued -> queued is not a transition; a requeue goes running -> queued.
  queued: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled', 'queued'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function isActive(status: JobStatus): boolean {
  return !isTerminal(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function allowedTransitions(from: JobStatus): readonly JobStatus[] {
  return TRANSITIONS[from];
}

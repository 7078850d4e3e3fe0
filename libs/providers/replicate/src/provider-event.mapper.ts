import type { ProviderEventPayload } from '@ct/contracts';
import type { ReplicateJobStatus } from './replicate.types';

/** A Replicate status (from a poll or a verified webhook) as the report every source feeds to the poller. */
export function toProviderEvent(job: { id: string; orgId: string }, st: ReplicateJobStatus, source: 'poll' | 'webhook'): ProviderEventPayload {
  const kind = st.status === 'queued' ? 'queued' : st.status === 'running' ? 'progress' : st.status === 'completed' ? 'completed' : st.status === 'cancelled' ? 'cancelled' : 'failed';
  return {
    v: 1,
    jobId: job.id,
    orgId: job.orgId,
    source,
    kind,
    message: kind === 'progress' || kind === 'queued' ? undefined : st.reason.slice(0, 4000),
    progress: st.progress ? { step: st.progress.step, totalSteps: st.progress.totalSteps ?? null, loss: st.progress.loss ?? null } : undefined,
    billedSeconds: st.billedSeconds,
    costMicros: st.costMicros !== null ? st.costMicros.toString() : undefined,
    occurredAt: new Date().toISOString(),
  };
}

export function logLinesOf(st: ReplicateJobStatus): string[] {
  return st.logs ? st.logs.replace(/\r/g, '\n').split('\n').filter((l) => l.length > 0) : [];
}

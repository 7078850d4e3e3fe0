import type { ProviderEventPayload } from '@ct/contracts';
import type { ProviderJobStatus } from './provider.plugin';

/** A provider status (from a poll, a verified webhook or finalize) as the report every source feeds to the poller. */
export function toProviderEvent(job: { id: string; orgId: string }, st: ProviderJobStatus, source: 'poll' | 'webhook'): ProviderEventPayload {
  const kind = st.status === 'queued' || st.status === 'uploading' ? 'queued' : st.status === 'running' ? 'progress' : st.status === 'completed' ? 'completed' : st.status === 'cancelled' ? 'cancelled' : 'failed';
  return {
    v: 1,
    jobId: job.id,
    orgId: job.orgId,
    source,
    kind,
    message: kind === 'progress' || kind === 'queued' ? undefined : st.reason.slice(0, 4000),
    progress: st.progress ? { step: st.progress.step, totalSteps: st.progress.totalSteps ?? null, loss: st.progress.loss ?? null } : undefined,
    billedSeconds: st.billedSeconds,
    costMicros: st.costMicros !== null && st.costMicros !== undefined ? st.costMicros.toString() : undefined,
    occurredAt: new Date().toISOString(),
  };
}

import type { GpuInfo, WorkerView } from '@ct/contracts';
import type { Worker } from '@ct/persistence';

/** A worker row → libs/contracts' `Worker` response (workers-http.ts); the token itself never appears. */
export function workerView(w: Worker): WorkerView {
  return {
    id: w.id,
    name: w.name,
    labels: w.labels,
    gpu_memory_gib: w.gpuMemoryGib,
    gpus: w.gpus as unknown as GpuInfo[],
    hostname: w.hostname,
    status: w.status,
    token_prefix: w.tokenPrefix,
    last_heartbeat_at: w.lastHeartbeatAt?.toISOString() ?? null,
    created_at: w.createdAt.toISOString(),
  };
}

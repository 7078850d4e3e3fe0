import type { Worker } from '@ct/persistence';

export function workerView(w: Worker) {
  return {
    id: w.id,
    name: w.name,
    labels: w.labels,
    gpu_memory_gib: w.gpuMemoryGib,
    gpus: w.gpus,
    hostname: w.hostname,
    status: w.status,
    token_prefix: w.tokenPrefix,
    last_heartbeat_at: w.lastHeartbeatAt?.toISOString() ?? null,
    created_at: w.createdAt.toISOString(),
  };
}

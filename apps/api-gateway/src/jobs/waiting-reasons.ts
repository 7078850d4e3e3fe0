import { Injectable } from '@nestjs/common';
import { gpuMemoryOf, WorkerRepository, type Job, type Worker } from '@ct/persistence';

interface Requirements {
  labels?: string[];
  min_gpu_memory_gib?: number;
}

/** Why a queued job is still waiting for a worker, in words a user can act on. */
@Injectable()
export class WaitingReasons {
  constructor(private readonly workers: WorkerRepository) {}

  async whyQueued(job: Job): Promise<string> {
    const req = (job.requirements ?? {}) as Requirements;
    const labels = req.labels ?? [];
    const gib = req.min_gpu_memory_gib ?? 0;
    const all = await this.workers.list(job.orgId);
    const online = all.filter((w) => w.status === 'online');
    if (online.length === 0) return all.length === 0 ? 'no worker is registered for this organisation' : `no worker is online (${all.length} registered: ${summary(all)})`;
    const labelled = online.filter((w) => labels.every((l) => w.labels.includes(l)));
    if (labelled.length === 0) return `no online worker has the labels ${JSON.stringify(labels)} (online: ${summary(online)})`;
    const big = labelled.filter((w) => gpuMemoryOf(w) >= gib);
    if (big.length === 0) {
      const largest = Math.max(0, ...labelled.map((w) => gpuMemoryOf(w)));
      return `no online worker with those labels has ${gib} GiB of GPU memory (the largest has ${Math.round(largest * 10) / 10} GiB; an admin sets a worker's GPU memory)`;
    }
    return `waiting for a free worker: ${big.length} matching worker(s) online, all busy`;
  }
}

function summary(ws: readonly Worker[]): string {
  return ws.slice(0, 5).map((w) => `${w.name} [${w.labels.join(', ')}] ${w.status}`).join('; ') + (ws.length > 5 ? ` and ${ws.length - 5} more` : '');
}

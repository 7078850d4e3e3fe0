import type { Job, JobEvent, JobLog, Package } from '@ct/persistence';
import { dollarsFromMicros } from '@ct/job-domain';

/** The job as clients see it (snake_case, like SimpleTuner's API). Secrets never appear here. */
export function jobView(job: Job, pkg?: Package | null, detail = false) {
  return {
    id: job.id,
    job_id: job.id,
    name: job.name,
    type: job.type,
    provider: job.provider,
    status: job.status,
    hardware_profile: job.hardwareProfile,
    worker_requirements: job.requirements,
    worker_id: job.workerId,
    external_id: job.externalId,
    progress: job.progress,
    cost_usd: dollarsFromMicros(job.costMicros),
    error: job.error,
    exit_code: job.exitCode,
    requeue_count: job.requeueCount,
    output: job.outputPrefix ? { bucket: 'outputs', prefix: job.outputPrefix } : null,
    package: pkg ? { bucket: pkg.bucket, key: pkg.key, files: pkg.files, bytes: Number(pkg.bytes), archive_bytes: Number(pkg.archiveBytes), summary: pkg.summary } : null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
    ...(detail ? { config: job.config, dataloader_config: job.dataloader, rewritten_dataloader_config: job.rewrittenDataloader } : {}),
  };
}
export type JobView = ReturnType<typeof jobView>;

export function eventView(e: JobEvent) {
  return { id: e.id.toString(), from_status: e.fromStatus, to_status: e.toStatus, reason: e.reason, data: e.data, at: e.createdAt.toISOString() };
}

export function logView(l: JobLog) {
  return { id: l.id.toString(), stream: l.stream, line: l.line, ts: l.ts.toISOString() };
}

export function encodeCursor(c: { createdAt: Date; id: string }): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`).toString('base64url');
}

export function decodeCursor(s: string): { createdAt: Date; id: string } | null {
  const [at, id] = Buffer.from(s, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  return id && !Number.isNaN(createdAt.getTime()) ? { createdAt, id } : null;
}

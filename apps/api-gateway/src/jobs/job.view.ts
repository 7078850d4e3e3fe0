import { jobIdSchema, type ConsentPreviewView, type CostEstimateView, type JobEventView, type JobLogLineView, type JobView, type JobWithConfigView, type PackageSummary } from '@ct/contracts';
import type { Job, JobEvent, JobListRow, JobLog, Package } from '@ct/persistence';
import { dollarsFromMicros, isTerminal, type JobProgress, type JobStatus } from '@ct/job-domain';

/**
 * Rows → the response shapes of libs/contracts (job-view.ts). The mapping stays here because it reads
 * persistence rows, which contracts may not import; the declared return types make the compiler hold every
 * field to the documented schema.
 */

/** The job as clients see it (from the list's columns or the whole row); `pkg` only where the package is shown (`GET /api/cloud/jobs/{id}`). */
export function jobView(job: JobListRow, pkg?: Package | null): JobView {
  return {
    id: job.id,
    job_id: job.id,
    name: job.name,
    type: job.type,
    provider: job.provider,
    status: job.status as JobStatus,
    hardware_profile: job.hardwareProfile,
    worker_requirements: job.requirements as JobView['worker_requirements'],
    worker_id: job.workerId,
    external_id: job.externalId,
    progress: job.progress as JobProgress | null,
    cost_usd: dollarsFromMicros(job.costMicros),
    error: job.error,
    exit_code: job.exitCode,
    requeue_count: job.requeueCount,
    output: job.outputPrefix ? { bucket: 'outputs', prefix: job.outputPrefix } : null,
    package: pkg ? { bucket: pkg.bucket, key: pkg.key, files: pkg.files, bytes: Number(pkg.bytes), archive_bytes: Number(pkg.archiveBytes), summary: pkg.summary as unknown as PackageSummary } : null,
    estimate: job.estimate as CostEstimateView | null,
    priority: job.priority,
    waiting_reason: job.status === 'waiting' ? job.waitingReason : null,
    spending: {
      estimated_usd: job.estimatedMicros === null ? null : dollarsFromMicros(job.estimatedMicros),
      reserved_usd: dollarsFromMicros(job.reservedMicros),
      accrued_usd: dollarsFromMicros(job.costMicros),
      settled_usd: job.finalizedAt ? dollarsFromMicros(job.costMicros) : null,
      warnings: ((job.limitWarnings as Array<{ message: string }> | null) ?? []).map((w) => w.message),
    },
    actual: isTerminal(job.status as JobStatus)
      ? { seconds: job.startedAt && job.finishedAt ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : null, cost_usd: dollarsFromMicros(job.costMicros) }
      : null,
    consent_request: job.status === 'awaiting_consent' ? (job.consentRequest as ConsentPreviewView | null) : null,
    consent_deadline: job.status === 'awaiting_consent' ? (job.consentDeadline?.toISOString() ?? null) : null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

/** The job with what it was submitted with. */
export function jobWithConfigView(job: Job, pkg?: Package | null): JobWithConfigView {
  return {
    ...jobView(job, pkg),
    config: job.config as Record<string, unknown>,
    dataloader_config: job.dataloader as unknown[],
    rewritten_dataloader_config: job.rewrittenDataloader as unknown[] | null,
  };
}

export function eventView(e: JobEvent): JobEventView {
  return { id: e.id.toString(), from_status: e.fromStatus, to_status: e.toStatus, reason: e.reason, data: e.data, at: e.createdAt.toISOString() };
}

export function logView(l: JobLog): JobLogLineView {
  return { id: l.id.toString(), stream: l.stream, line: l.line, ts: l.ts.toISOString() };
}

export function encodeCursor(c: { createdAt: Date; id: string }): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`).toString('base64url');
}

/** The exact shape encodeCursor makes: anything else (a NUL, a year 200000) would only fail in the database. */
const CURSOR = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(.+)$/s;

export function decodeCursor(s: string): { createdAt: Date; id: string } | null {
  const m = CURSOR.exec(Buffer.from(s, 'base64url').toString());
  const createdAt = new Date(m?.[1] ?? '');
  const id = jobIdSchema.safeParse(m?.[2]);
  return id.success && !Number.isNaN(createdAt.getTime()) ? { createdAt, id: id.data } : null;
}

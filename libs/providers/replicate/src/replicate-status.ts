import type { JobStatus } from '@ct/job-domain';

export const REPLICATE_STATUSES = ['starting', 'processing', 'succeeded', 'failed', 'canceled', 'aborted'] as const;
export type ReplicateStatus = (typeof REPLICATE_STATUSES)[number];

export const REPLICATE_TERMINAL: readonly ReplicateStatus[] = ['succeeded', 'failed', 'canceled', 'aborted'];

/**
 * Replicate → our states. Billing starts at `processing` (predict_time excludes queue and boot time), so
 * `starting` is `queued` and only `processing` is `running`. `aborted` means Replicate gave up before the run
 * started (a deadline while `starting`): nobody asked for it, so it is `failed`, not `cancelled`.
 */
const MAP: Readonly<Record<ReplicateStatus, JobStatus>> = {
  starting: 'queued',
  processing: 'running',
  succeeded: 'completed',
  failed: 'failed',
  canceled: 'cancelled',
  aborted: 'failed',
};

export function isReplicateStatus(value: unknown): value is ReplicateStatus {
  return typeof value === 'string' && (REPLICATE_STATUSES as readonly string[]).includes(value);
}

/** Unknown statuses (a future API addition) read as `running`: the poller keeps asking instead of ending the job. */
export function toJobStatus(status: string): JobStatus {
  return isReplicateStatus(status) ? MAP[status] : 'running';
}

export function isReplicateTerminal(status: string): boolean {
  return isReplicateStatus(status) && REPLICATE_TERMINAL.includes(status);
}

/** The reason recorded on the job's timeline for a Replicate status. */
export function describeStatus(status: string, error: string | null): string {
  switch (status) {
    case 'starting':
      return 'queued at Replicate (waiting for a GPU; not billed yet)';
    case 'processing':
      return 'running on Replicate';
    case 'succeeded':
      return 'completed on Replicate';
    case 'failed':
      return error ? `failed on Replicate: ${error}` : 'failed on Replicate';
    case 'canceled':
      return 'cancelled at Replicate';
    case 'aborted':
      return 'aborted by Replicate before it started (deadline reached while queued)';
    default:
      return `Replicate reports "${status}"`;
  }
}

export interface LogProgress {
  step: number;
  totalSteps: number | null;
  loss: number | null;
}

const NUM = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';
/** tqdm: `Steps:  45%|████▌     | 450/1000 [01:23<01:40, 5.40it/s, lr=0.0001, step_loss=0.123]` */
const TQDM = /^(?<desc>[^|]*?)\s*\d{1,3}%\|[^|]*\|\s*(?<step>\d+)\/(?<total>\d+)\s*\[(?<tail>[^\]]*)\]?/;
/** plain text: `Step 450/1000`, `step: 450 / 1000 | loss: 0.123` */
const STEP_TEXT = /\bstep\s*:?\s*(?<step>\d+)\s*\/\s*(?<total>\d+)/i;
const LOSS = new RegExp(`\\b(?:step_loss|train_loss|avr_loss|loss)\\s*[=:]\\s*(?<loss>${NUM})`, 'i');
/** tqdm bars that are not the training loop (caching, downloads, validation) would move progress backwards. */
const TRAINING_DESC = /^(?:|.*\b(?:steps?|train(?:ing)?|epoch)\b.*)$/i;

function lossIn(text: string): number | null {
  const m = LOSS.exec(text);
  const v = m?.groups?.loss === undefined ? NaN : Number(m.groups.loss);
  return Number.isFinite(v) ? v : null;
}

function fromJson(line: string): LogProgress | null {
  if (!line.startsWith('{') || !line.includes('"ct"')) return null;
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    if (v.ct !== 'progress' || typeof v.step !== 'number' || !Number.isInteger(v.step) || v.step < 0) return null;
    const total = typeof v.total_steps === 'number' && v.total_steps > 0 ? v.total_steps : null;
    const loss = typeof v.loss === 'number' && Number.isFinite(v.loss) ? v.loss : null;
    return { step: v.step, totalSteps: total, loss };
  } catch {
    return null;
  }
}

function fromTqdm(line: string): LogProgress | null {
  const m = TQDM.exec(line);
  if (!m?.groups || !TRAINING_DESC.test((m.groups.desc ?? '').replace(/:$/, '').trim())) return null;
  const total = Number(m.groups.total);
  return { step: Number(m.groups.step), totalSteps: total > 0 ? total : null, loss: lossIn(m.groups.tail ?? '') };
}

function fromText(line: string): LogProgress | null {
  const m = STEP_TEXT.exec(line);
  if (!m?.groups) return null;
  const total = Number(m.groups.total);
  return { step: Number(m.groups.step), totalSteps: total > 0 ? total : null, loss: lossIn(line.slice(m.index)) };
}

export function progressFromLine(raw: string): LogProgress | null {
  const line = raw.trim();
  if (line === '') return null;
  return fromJson(line) ?? fromTqdm(line) ?? fromText(line);
}

/**
 * The latest training progress in a prediction's `logs` (the full text so far): the last line that matches
 * our JSON protocol, a tqdm training bar, or "Step N/M". `\r` ends a line too, because tqdm redraws with it.
 */
export function progressFromLogs(logs: string | null | undefined): LogProgress | null {
  if (!logs) return null;
  const lines = logs.split(/\r\n|\r|\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const found = progressFromLine(lines[i] ?? '');
    if (found) return found;
  }
  return null;
}

import type { ProgressReport } from '@ct/contracts';

/** A structured stdout line of the trainer progress protocol (docs/TRAINER-CONTRACT.md). */
export type ProgressEvent =
  | { kind: 'progress'; step: number; totalSteps: number | null; loss: number | null }
  | { kind: 'checkpoint'; step: number | null; path: string };

const MAX_CHECKPOINT_PATH = 1024;

function asStep(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

function asTotal(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
}

function asLoss(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Returns the event for a protocol line, or null for an ordinary log line (never throws). */
export function parseProgressLine(line: string): ProgressEvent | null {
  const text = line.trim();
  if (!text.startsWith('{') || !text.endsWith('}') || !text.includes('"ct"')) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  if (o.ct === 'progress') {
    const step = asStep(o.step);
    return step === null ? null : { kind: 'progress', step, totalSteps: asTotal(o.total_steps), loss: asLoss(o.loss) };
  }
  if (o.ct === 'checkpoint' && typeof o.path === 'string' && o.path.length > 0 && o.path.length <= MAX_CHECKPOINT_PATH) {
    return { kind: 'checkpoint', step: asStep(o.step), path: o.path };
  }
  return null;
}

/** Folds events into the latest report, so a throttled send always carries the newest state. */
export class ProgressState {
  private step = 0;
  private totalSteps: number | null = null;
  private loss: number | null = null;
  private checkpoint: string | null = null;

  apply(event: ProgressEvent): ProgressReport {
    if (event.kind === 'progress') {
      this.step = event.step;
      if (event.totalSteps !== null) this.totalSteps = event.totalSteps;
      this.loss = event.loss;
    } else {
      if (event.step !== null) this.step = event.step;
      this.checkpoint = event.path;
    }
    return this.current();
  }

  current(): ProgressReport {
    return { step: this.step, totalSteps: this.totalSteps, loss: this.loss, checkpoint: this.checkpoint };
  }
}

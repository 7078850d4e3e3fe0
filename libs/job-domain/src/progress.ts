/** Training progress as reported by a trainer (see docs/TRAINER-CONTRACT.md). */
export interface JobProgress {
  step: number;
  totalSteps: number | null;
  loss: number | null;
  lastCheckpoint: string | null;
  percent: number | null;
  updatedAt: string;
}

export function percentOf(step: number, totalSteps: number | null): number | null {
  if (totalSteps === null || totalSteps <= 0) return null;
  return Math.min(100, Math.round((step / totalSteps) * 1000) / 10);
}

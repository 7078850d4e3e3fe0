/**
 * How long a training run will take, and so what it will cost, before it is submitted. Learned from the
 * organisation's own completed runs on the same provider and hardware profile (seconds per training step
 * plus start-up time, fitted by least squares), else the provider's documented default table; no estimate
 * when neither fits. Pure: the gateway supplies the history and the provider's defaults.
 */

/** One completed run: how many steps it trained and how long it ran (billed from start to end). */
export interface RunSample {
  steps: number;
  seconds: number;
}

/** A provider's documented guess for a profile, used until the organisation has history of its own. */
export interface EstimateDefaults {
  secondsPerStep: number;
  startupSeconds: number;
  /** Where the figures come from, for the answer's basis. */
  source: string;
}

export interface RunEstimate {
  seconds: number;
  low: number;
  high: number;
  basis: 'history' | 'default_table';
  detail: string;
  secondsPerStep: number;
  startupSeconds: number;
  samples: number;
}

/** Completed runs needed before history replaces the default table. */
export const MIN_HISTORY = 3;
/** The default table is a rough guess: its range is half to twice the expected time. */
const DEFAULT_RANGE = { low: 0.5, high: 2 } as const;
/** Even a perfect history leaves this much either side. */
const MIN_SPREAD = 0.1;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** seconds = startup + steps × perStep over the samples; null when the data cannot separate the two. */
function fit(samples: RunSample[]): { startup: number; perStep: number } {
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.steps, 0) / n;
  const my = samples.reduce((a, s) => a + s.seconds, 0) / n;
  const sxx = samples.reduce((a, s) => a + (s.steps - mx) ** 2, 0);
  const sxy = samples.reduce((a, s) => a + (s.steps - mx) * (s.seconds - my), 0);
  if (sxx > 0) {
    const perStep = sxy / sxx;
    const startup = my - perStep * mx;
    if (perStep > 0 && startup >= 0) return { startup, perStep };
  }
  // All runs of one length (or a fit that makes no physical sense): the start-up is folded into each step.
  return { startup: 0, perStep: median(samples.map((s) => s.seconds / s.steps)) };
}

export function estimateRun(steps: number, history: readonly RunSample[], defaults: EstimateDefaults | null): RunEstimate | null {
  if (!Number.isFinite(steps) || steps <= 0) return null;
  const samples = history.filter((s) => s.steps > 0 && s.seconds > 0 && Number.isFinite(s.seconds));
  if (samples.length >= MIN_HISTORY) {
    const { startup, perStep } = fit(samples);
    const seconds = startup + steps * perStep;
    const ratios = samples.map((s) => s.seconds / (startup + s.steps * perStep));
    const low = seconds * Math.min(1 - MIN_SPREAD, ...ratios);
    const high = seconds * Math.max(1 + MIN_SPREAD, ...ratios);
    return {
      seconds, low, high, basis: 'history', secondsPerStep: perStep, startupSeconds: startup, samples: samples.length,
      detail: `${samples.length} completed runs of this organisation on the same provider and profile: ${perStep.toFixed(3)} s per step + ${startup.toFixed(0)} s start-up`,
    };
  }
  if (!defaults) return null;
  const seconds = defaults.startupSeconds + steps * defaults.secondsPerStep;
  return {
    seconds, low: seconds * DEFAULT_RANGE.low, high: seconds * DEFAULT_RANGE.high, basis: 'default_table',
    secondsPerStep: defaults.secondsPerStep, startupSeconds: defaults.startupSeconds, samples: samples.length,
    detail: `${defaults.source}: ${defaults.secondsPerStep} s per step + ${defaults.startupSeconds} s start-up (fewer than ${MIN_HISTORY} completed runs of this organisation to learn from)`,
  };
}

/** The number of training steps a SimpleTuner config asks for (`max_train_steps`, with or without SimpleTuner's `--`); null when it does not say. */
export function trainingStepsOf(config: Record<string, unknown>): number | null {
  for (const key of ['max_train_steps', '--max_train_steps']) {
    const v = config[key];
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (Number.isInteger(n) && n > 0) return n;
  }
  return null;
}

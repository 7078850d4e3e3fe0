import { DomainError, type EstimateDefaults, type Micros } from '@ct/job-domain';

/**
 * SimpleTuner's Replicate hardware profiles. The hardware is fixed by which model runs the job
 * (`simpletuner/advanced-trainer-<profile>`), not by a request field.
 *
 * Prices are integer MICRO-DOLLARS PER HOUR: exact for every published rate ($3.51/h = 3 510 000 µ$/h,
 * $5.49/h = 5 490 000 µ$/h) and for per-hour overrides, where per-second figures need not be integers
 * (an override of $3.50/h is 972.2… µ$/s). Costs are computed from billed milliseconds and
 * rounded up to the micro-dollar once, at the end.
 */
export const BASE_GPUS = ['h100', 'l40s'] as const;
export type BaseGpu = (typeof BASE_GPUS)[number];

export const GPU_COUNTS = [1, 2, 4, 8] as const;
export type GpuCount = (typeof GPU_COUNTS)[number];

export const MODEL_OWNER = 'simpletuner';
export const MODEL_PREFIX = 'advanced-trainer-';
export const DEFAULT_PROFILE = 'h100';

/** Replicate's published prices (replicate.com/pricing): L40S $0.000975/s ($3.51/h), H100 $0.001525/s ($5.49/h). */
export const BASE_MICROS_PER_HOUR: Readonly<Record<BaseGpu, bigint>> = {
  l40s: 3_510_000n,
  h100: 5_490_000n,
};

const GPU_NAMES: Readonly<Record<BaseGpu, string>> = { h100: 'NVIDIA H100 (80GB)', l40s: 'NVIDIA L40S (48GB)' };

/**
 * Per-organisation price overrides in micro-dollars per hour. A key is either a base GPU (`h100`, `l40s`:
 * replaces the base, multi-GPU profiles still cost N×) or a full profile (`h100-x4`: that profile exactly).
 */
export type PriceOverrides = Readonly<Record<string, bigint>>;

export interface HardwareProfile {
  profile: string;
  gpu: BaseGpu;
  gpuCount: GpuCount;
}

export interface HardwareOption {
  profile: string;
  model: string;
  gpu: BaseGpu;
  gpuName: string;
  gpuCount: GpuCount;
  /** exact integer; a number so the list serialises to JSON as is */
  microsPerHour: number;
  dollarsPerSecond: number;
  dollarsPerHour: number;
}

export const PROFILES: readonly HardwareProfile[] = BASE_GPUS.flatMap((gpu) =>
  GPU_COUNTS.map((gpuCount) => ({ profile: gpuCount === 1 ? gpu : `${gpu}-x${gpuCount}`, gpu, gpuCount })),
);

/**
 * Accepts what users type (SimpleTuner's normalisation): any case, `_` for `-`, an `advanced-trainer-`
 * or `simpletuner/advanced-trainer-` prefix, and an explicit `-x1`.
 */
export function normaliseProfile(input: string): string {
  let p = input.trim().toLowerCase().replace(/_/g, '-');
  if (p.startsWith(`${MODEL_OWNER}/`)) p = p.slice(MODEL_OWNER.length + 1);
  if (p.startsWith(MODEL_PREFIX)) p = p.slice(MODEL_PREFIX.length);
  return p.replace(/-x1$/, '');
}

export function findProfile(input: string): HardwareProfile | null {
  const p = normaliseProfile(input);
  return PROFILES.find((x) => x.profile === p) ?? null;
}

export function resolveProfile(input: string): HardwareProfile {
  const found = findProfile(input);
  if (!found) {
    throw new DomainError('validation_failed', `Unknown Replicate hardware profile "${input}". Use one of: ${PROFILES.map((p) => p.profile).join(', ')}.`, {
      field: 'hardware_profile',
      value: input,
    });
  }
  return found;
}

/** `simpletuner/advanced-trainer-<profile>` as `{owner, name}`. */
export function modelOf(profile: HardwareProfile): { owner: string; name: string; full: string } {
  const name = `${MODEL_PREFIX}${profile.profile}`;
  return { owner: MODEL_OWNER, name, full: `${MODEL_OWNER}/${name}` };
}

/** The profile a prediction ran on, from its `model` field; null for models that are not ours. */
export function profileOfModel(model: string | undefined | null): HardwareProfile | null {
  if (!model || !model.startsWith(`${MODEL_OWNER}/${MODEL_PREFIX}`)) return null;
  return findProfile(model);
}

export function microsPerHourOf(input: string, overrides: PriceOverrides = {}): bigint {
  const p = resolveProfile(input);
  const exact = overrides[p.profile];
  if (exact !== undefined) return checkPrice(exact, p.profile);
  const base = overrides[p.gpu] ?? BASE_MICROS_PER_HOUR[p.gpu];
  return checkPrice(base, p.gpu) * BigInt(p.gpuCount);
}

function checkPrice(price: bigint, key: string): bigint {
  if (price < 0n) throw new DomainError('validation_failed', `The price override for "${key}" is negative.`, { key });
  return price;
}

/**
 * Cost of `billedSeconds` (Replicate's `metrics.predict_time`, fractional) on a profile, in micro-dollars,
 * rounded up. Milliseconds first, so 0.0004 s of a cancel-while-starting costs at most one micro-dollar.
 */
export function costOf(profile: string, billedSeconds: number, overrides?: PriceOverrides): Micros {
  const perHour = microsPerHourOf(profile, overrides);
  if (!Number.isFinite(billedSeconds) || billedSeconds <= 0) return 0n;
  const millis = BigInt(Math.ceil(billedSeconds * 1000));
  const msPerHour = 3_600_000n;
  return (millis * perHour + msPerHour - 1n) / msPerHour;
}

/** Every profile with its model and price, for the UI and `GET /api/cloud/providers/replicate/hardware`. */
export function listHardwareOptions(overrides?: PriceOverrides): HardwareOption[] {
  return PROFILES.map((p) => {
    const perHour = microsPerHourOf(p.profile, overrides);
    return {
      profile: p.profile,
      model: modelOf(p).full,
      gpu: p.gpu,
      gpuName: p.gpuCount === 1 ? GPU_NAMES[p.gpu] : `${p.gpuCount}× ${GPU_NAMES[p.gpu]}`,
      gpuCount: p.gpuCount,
      microsPerHour: Number(perHour),
      dollarsPerSecond: Number(perHour) / 3_600_000_000,
      dollarsPerHour: Number(perHour) / 1_000_000,
    };
  });
}

/**
 * The default run-time table (docs/PROVIDERS.md, "Cost estimates"), used until an organisation has completed
 * runs of its own on a profile: seconds per training step of a SimpleTuner LoRA at 1024 px on one GPU (a 2,000-step
 * LoRA on an L40S is then about 2.3 h, $8, inside MISSION's "$5-15"), sped up by data parallelism at 90 % per added
 * GPU, plus the start-up (container boot, model download) Replicate also bills.
 */
export const DEFAULT_SECONDS_PER_STEP: Readonly<Record<BaseGpu, number>> = { l40s: 4.0, h100: 2.0 };
export const DEFAULT_STARTUP_SECONDS = 180;

export function defaultRunTimes(profile: HardwareProfile): EstimateDefaults {
  const speedup = 1 + 0.9 * (profile.gpuCount - 1);
  return {
    secondsPerStep: Math.round((DEFAULT_SECONDS_PER_STEP[profile.gpu] / speedup) * 1000) / 1000,
    startupSeconds: DEFAULT_STARTUP_SECONDS,
    source: `default table for ${profile.profile}`,
  };
}

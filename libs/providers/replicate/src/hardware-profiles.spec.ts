import { DomainError } from '@ct/job-domain';
import { costOf, listHardwareOptions, microsPerHourOf, modelOf, normaliseProfile, profileOfModel, PROFILES, resolveProfile } from './hardware-profiles';

describe('hardware profiles', () => {
  it('has h100 and l40s with x2, x4, x8 variants, each its own SimpleTuner model', () => {
    expect(PROFILES.map((p) => p.profile)).toEqual(['h100', 'h100-x2', 'h100-x4', 'h100-x8', 'l40s', 'l40s-x2', 'l40s-x4', 'l40s-x8']);
    expect(modelOf(resolveProfile('l40s-x4')).full).toBe('simpletuner/advanced-trainer-l40s-x4');
  });

  it('normalises what users type', () => {
    expect(normaliseProfile('H100_X4')).toBe('h100-x4');
    expect(normaliseProfile('advanced-trainer-l40s')).toBe('l40s');
    expect(normaliseProfile('simpletuner/advanced-trainer-h100-x1')).toBe('h100');
    expect(profileOfModel('simpletuner/advanced-trainer-l40s-x8')?.gpuCount).toBe(8);
    expect(profileOfModel('stability-ai/sdxl')).toBeNull();
  });

  it('stores base prices exactly, per hour', () => {
    expect(microsPerHourOf('l40s')).toBe(3_510_000n); // $0.000975/s, replicate.com/pricing
    expect(microsPerHourOf('h100')).toBe(5_490_000n);
  });

  it('charges N times the base for -xN', () => {
    expect(microsPerHourOf('h100-x4')).toBe(4n * microsPerHourOf('h100'));
    expect(costOf('h100-x4', 3600)).toBe(4n * costOf('h100', 3600));
    expect(costOf('l40s-x8', 1800)).toBe(8n * costOf('l40s', 1800));
    // rounding happens once, on the total, not per GPU: 1000 s of 8× L40S = 7 777 777.8 µ$
    expect(costOf('l40s-x8', 1000)).toBe(7_800_000n);
  });

  it('costs one hour at the published hourly rate', () => {
    expect(costOf('l40s', 3600)).toBe(3_510_000n);
    expect(costOf('h100', 3600)).toBe(5_490_000n);
  });

  it('rounds up to the micro-dollar once, from billed milliseconds', () => {
    expect(costOf('l40s', 1)).toBe(975n);
    // at an override of $3.50/h, 1 s = 972.222… µ$, rounded up once
    expect(costOf('l40s', 1, { l40s: 3_500_000n })).toBe(973n);
    // 502.713876 s (the OAS example) of H100 = 502.714 s × 1525 µ$/s = 766 638.85 µ$
    expect(costOf('h100', 502.713876)).toBe(766_639n);
    // a cancel while starting is billed 3e-06 s: at most one micro-dollar
    expect(costOf('h100', 3e-6)).toBe(2n);
    expect(costOf('h100', 0)).toBe(0n);
    expect(costOf('h100', Number.NaN)).toBe(0n);
  });

  it('uses an organisation override for a base GPU (still N×) or for one exact profile', () => {
    const overrides = { l40s: 3_000_000n, 'h100-x8': 40_000_000n };
    expect(microsPerHourOf('l40s-x2', overrides)).toBe(6_000_000n);
    expect(microsPerHourOf('h100-x8', overrides)).toBe(40_000_000n);
    expect(microsPerHourOf('h100-x4', overrides)).toBe(21_960_000n);
    expect(() => microsPerHourOf('h100', { h100: -1n })).toThrow(DomainError);
  });

  it('refuses an unknown profile with validation_failed', () => {
    expect(() => costOf('a100', 10)).toThrow(DomainError);
    try {
      resolveProfile('h100-x3');
    } catch (err) {
      expect((err as DomainError).code).toBe('validation_failed');
      expect((err as DomainError).message).toContain('h100-x3');
    }
    expect.assertions(3);
  });

  it('lists every option with model, GPU count and prices', () => {
    const list = listHardwareOptions();
    expect(list).toHaveLength(8);
    const l40s = list.find((o) => o.profile === 'l40s')!;
    expect(l40s).toMatchObject({ model: 'simpletuner/advanced-trainer-l40s', gpu: 'l40s', gpuCount: 1, dollarsPerHour: 3.51, microsPerHour: 3_510_000 });
    expect(l40s.dollarsPerSecond).toBeCloseTo(0.000975, 9);
    const h100x2 = list.find((o) => o.profile === 'h100-x2')!;
    expect(h100x2.dollarsPerSecond).toBeCloseTo(0.00305, 9);
    expect(h100x2.dollarsPerHour).toBeCloseTo(10.98, 9);
    expect(listHardwareOptions({ h100: 6_000_000n }).find((o) => o.profile === 'h100-x4')!.dollarsPerHour).toBe(24);
    expect(JSON.parse(JSON.stringify(list))).toHaveLength(8);
  });
});

/** Money is integer micro-dollars: 1 USD = 1_000_000 micros. Never floats in storage. */
export type Micros = bigint;

export function microsFromDollars(dollars: number): Micros {
  return BigInt(Math.round(dollars * 1_000_000));
}

export function dollarsFromMicros(micros: Micros): number {
  return Number(micros) / 1_000_000;
}

/** Cost of `seconds` of billed time at `microsPerSecond`, rounded up to the micro-dollar. */
export function costOfSeconds(seconds: number, microsPerSecond: Micros): Micros {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0n;
  const millis = BigInt(Math.ceil(seconds * 1000));
  return (millis * microsPerSecond + 999n) / 1000n;
}

/** Cost of `seconds` at a price per hour (exact for every published rate), rounded up to the micro-dollar. */
export function costAtHourlyRate(seconds: number, microsPerHour: Micros): Micros {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0n;
  const millis = BigInt(Math.ceil(seconds * 1000));
  return (millis * microsPerHour + 3_599_999n) / 3_600_000n;
}

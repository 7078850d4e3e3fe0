import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Simulated time: real time multiplied by a speed factor, anchored at construction. Everything the API
 * reports (timestamps, predict_time, file expiry) uses it, so a 10-minute run at speed 100 takes 6 real
 * seconds yet reports `predict_time: 600`. Delivery mechanics (webhook retries, rate limits) stay on real
 * time because they are about how the client behaves, not about what is being simulated.
 */
export class SimClock {
  private anchorReal = Date.now();
  private anchorSim = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private speed = 1) {
    if (!(speed > 0)) throw new Error(`speed must be > 0, got ${speed}`);
  }

  now(): number {
    return this.anchorSim + (Date.now() - this.anchorReal) * this.speed;
  }

  getSpeed(): number {
    return this.speed;
  }

  /** Re-anchors so simulated time stays continuous; sleeps already running keep their real deadline. */
  setSpeed(speed: number): void {
    if (!(speed > 0)) throw new Error(`speed must be > 0, got ${speed}`);
    this.anchorSim = this.now();
    this.anchorReal = Date.now();
    this.speed = speed;
  }

  /** Waits `simMs` of simulated time; resolves false early when the signal aborts. */
  sleep(simMs: number, signal?: AbortSignal): Promise<boolean> {
    return sleepReal(Math.max(0, simMs / this.speed), signal, this.timers);
  }

  /** Waits until the simulated clock reads `simTarget`: deadlines, unlike chained sleeps, do not accumulate timer lateness. */
  sleepUntil(simTarget: number, signal?: AbortSignal): Promise<boolean> {
    return this.sleep(simTarget - this.now(), signal);
  }

  /** Cancels every pending sleep (they resolve false) so stop() leaves no timers behind. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export function sleepReal(ms: number, signal?: AbortSignal, track?: Set<NodeJS.Timeout>): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      track?.delete(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      track?.delete(timer);
      resolve(false);
    };
    track?.add(timer);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** RFC 3339 with 6 fractional digits, like Replicate's GET responses (`...26.906823Z`). */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** RFC 3339 with 9 fractional digits, like Replicate's create responses (`...26.678378653Z`). */
export function isoNanos(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** Prediction/training ids: 26 lowercase base32-ish characters (`zz4ibbonubfz7carwiefibzgga`). */
export function predictionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(26);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

/** File ids: base64 of a UUID string, as in the recorded Files API responses. */
export function fileId(): string {
  return Buffer.from(randomUUID()).toString('base64').replace(/=+$/, '');
}

export function versionId(): string {
  return randomBytes(32).toString('hex');
}

export function webhookMessageId(): string {
  return `msg_${randomBytes(18).toString('base64url')}`;
}

/** mulberry32: a tiny seeded PRNG so "lose 30 % of webhooks" is reproducible run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

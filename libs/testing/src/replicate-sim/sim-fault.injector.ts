import { compileRoutePattern, ProblemError } from './sim-http.util';
import type { FaultSpec, SimRateLimitOptions } from './replicate-sim.types';

interface ArmedFault {
  spec: FaultSpec;
  re: RegExp;
  remaining: number;
}

/** What the server must do with a request before (and after) running its handler. */
export type FaultDecision =
  | { kind: 'none' }
  | { kind: 'status'; error: ProblemError }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number };

const THROTTLED = (resetS: number): string => `Request was throttled. Your rate limit resets in ~${resetS}s.`;

/** Replicate's default error text per status, so a scripted 5xx/4xx looks like the real thing. */
function problemFor(status: number, detail: string | undefined, retryAfterS: number): ProblemError {
  if (status === 429) {
    return new ProblemError(429, detail ?? THROTTLED(retryAfterS), undefined, {}, {
      'retry-after': String(retryAfterS), 'ratelimit-remaining': '0', 'ratelimit-reset': String(retryAfterS),
    });
  }
  if (status === 402) {
    return new ProblemError(402, detail ?? 'You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please wait a few minutes before trying again.', 'Insufficient credit');
  }
  const titles: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
  return new ProblemError(status, detail ?? 'Simulated failure', titles[status] ?? 'Error');
}

/**
 * Scripted faults, consumed in the order they were armed; each fires on the next `count` matching requests.
 * `before` faults replace the handler (status, delay, drop before anything happens); `after` drops run the
 * handler (so a prediction really is created) and then destroy the socket instead of answering.
 */
export class SimFaultInjector {
  private armed: ArmedFault[] = [];

  arm(spec: FaultSpec): void {
    if (!(spec.count > 0)) throw new Error('fault count must be > 0');
    this.armed.push({ spec, re: compileRoutePattern(spec.route), remaining: spec.count });
  }

  clear(): void {
    this.armed = [];
  }

  pending(): Array<FaultSpec & { remaining: number }> {
    return this.armed.map((a) => ({ ...a.spec, route: a.spec.route instanceof RegExp ? a.spec.route.source : a.spec.route, remaining: a.remaining }));
  }

  before(key: string): FaultDecision {
    const hit = this.take(key, (s) => (s.kind === 'drop' ? (s.when ?? 'after') === 'before' : s.kind !== 'delay' || (s.when ?? 'before') === 'before'));
    if (!hit) return { kind: 'none' };
    const s = hit.spec;
    if (s.kind === 'status') return { kind: 'status', error: problemFor(s.status, s.detail, s.retryAfterS ?? 1) };
    if (s.kind === 'delay') return { kind: 'delay', ms: s.ms };
    return { kind: 'drop' };
  }

  /** Called once a handler succeeded: how long to hold its answer (a matching `after` delay), else 0. */
  holdAfter(key: string): number {
    const hit = this.take(key, (s) => s.kind === 'delay' && s.when === 'after');
    return hit && hit.spec.kind === 'delay' ? hit.spec.ms : 0;
  }

  /** Called only once a handler succeeded: consumes a matching `after` drop. */
  dropAfter(key: string): boolean {
    return this.take(key, (s) => s.kind === 'drop' && (s.when ?? 'after') === 'after') !== null;
  }

  private take(key: string, accept: (s: FaultSpec) => boolean): ArmedFault | null {
    const hit = this.armed.find((a) => a.remaining > 0 && accept(a.spec) && a.re.test(key));
    if (!hit) return null;
    hit.remaining -= 1;
    this.armed = this.armed.filter((a) => a.remaining > 0);
    return hit;
  }
}

/**
 * Token buckets per account and class (creates vs everything else), refilled continuously, as in
 * Replicate's documented 600/min and 3000/min. Real time on purpose: it is about the client's pace.
 */
export class SimRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private limits: SimRateLimitOptions | false) {}

  configure(limits: SimRateLimitOptions | false): void {
    this.limits = limits;
    this.buckets.clear();
  }

  /** Returns the headers to add; throws the 429 problem when the bucket is empty. */
  take(account: string, isCreate: boolean): Record<string, string> {
    if (!this.limits) return {};
    const perMinute = isCreate ? this.limits.createPerMinute : this.limits.otherPerMinute;
    const key = `${account}:${isCreate ? 'create' : 'other'}`;
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute);
    b.at = now;
    this.buckets.set(key, b);
    const secondsPerToken = 60 / perMinute;
    if (b.tokens < 1) {
      const resetS = Math.max(1, Math.ceil((1 - b.tokens) * secondsPerToken));
      throw new ProblemError(429, THROTTLED(resetS), undefined, {}, { 'retry-after': String(resetS), 'ratelimit-remaining': '0', 'ratelimit-reset': String(resetS) });
    }
    b.tokens -= 1;
    return { 'ratelimit-remaining': String(Math.floor(b.tokens)), 'ratelimit-reset': String(Math.max(1, Math.ceil(secondsPerToken))) };
  }
}

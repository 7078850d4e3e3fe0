import type { SimClock } from './sim-clock.util';
import type { SimFaultInjector, SimRateLimiter } from './sim-fault.injector';
import type { SimRunEngine } from './sim-run.engine';
import type { SimWebhookDispatcher } from './sim-webhook.dispatcher';
import type { FaultSpec, RoutePattern, SimBehaviour, SimRateLimitOptions, SimWebhookOptions, WebhookEvent } from './replicate-sim.types';

export interface ScriptDeps {
  faults: SimFaultInjector;
  rateLimiter: SimRateLimiter;
  webhooks: SimWebhookDispatcher;
  clock: SimClock;
  engine: SimRunEngine;
  behaviour: SimBehaviour;
}

/**
 * The knobs a test turns, in-process (`sim.script.*`). The HTTP control API (`/_sim/*`) maps onto the same
 * methods, so a standalone simulator can be scripted exactly like an embedded one.
 */
export class SimScript {
  constructor(private readonly d: ScriptDeps) {}

  /** Arms any fault described as data (what `POST /_sim/faults` takes). */
  fault(spec: FaultSpec): this {
    this.d.faults.arm(spec);
    return this;
  }

  /** The next `count` requests matching `route` (default: any /v1 request) answer `status` with a Replicate-style problem body. */
  failNext(status: number, count = 1, route?: RoutePattern, extra: { detail?: string; retryAfterS?: number } = {}): this {
    return this.fault({ kind: 'status', status, count, route, ...extra });
  }

  /** A burst of 429s with `retry-after`, `ratelimit-remaining: 0` and `ratelimit-reset`. */
  throttleNext(count: number, route?: RoutePattern, retryAfterS = 1): this {
    return this.fault({ kind: 'status', status: 429, count, route, retryAfterS });
  }

  /**
   * Destroys the socket of the next `count` matching requests. `after` (default) runs the handler first, so
   * the client sees a network error although the prediction/file exists: the duplicate-creation trap.
   */
  dropConnection(opts: { count?: number; route?: RoutePattern; when?: 'before' | 'after' } = {}): this {
    return this.fault({ kind: 'drop', count: opts.count ?? 1, route: opts.route ?? 'create', when: opts.when ?? 'after' });
  }

  dropConnectionOnNextCreate(): this {
    return this.dropConnection({ count: 1, route: 'create', when: 'after' });
  }

  delayNext(ms: number, count = 1, route?: RoutePattern): this {
    return this.fault({ kind: 'delay', ms, count, route });
  }

  /**
   * Handles the next `count` matching requests, then holds each answer for `ms`: the file or prediction
   * exists while the client still waits (kill the client meanwhile and it never learns the id).
   */
  holdAnswer(ms: number, count = 1, route?: RoutePattern): this {
    return this.fault({ kind: 'delay', ms, count, route, when: 'after' });
  }

  clearFaults(): this {
    this.d.faults.clear();
    return this;
  }

  /** Drop webhook deliveries: all (`fraction` 1) or a seeded random share, optionally only some events. */
  loseWebhooks(fraction = 1, seed?: number, events?: WebhookEvent[]): this {
    this.d.webhooks.loseWebhooks({ fraction, seed, events });
    return this;
  }

  keepWebhooks(): this {
    this.d.webhooks.loseWebhooks(null);
    return this;
  }

  webhookDelivery(options: Partial<SimWebhookOptions>): this {
    this.d.webhooks.configure(options);
    return this;
  }

  /** New defaults for runs created from now on (runs already created keep their plan). */
  setDefaults(partial: Partial<SimBehaviour>): this {
    Object.assign(this.d.behaviour, partial);
    return this;
  }

  setSpeed(speed: number): this {
    this.d.clock.setSpeed(speed);
    return this;
  }

  setRateLimit(limits: SimRateLimitOptions | false): this {
    this.d.rateLimiter.configure(limits);
    return this;
  }

  /** Ends a run now: handy to reach a terminal state without waiting out its duration. */
  finishRun(id: string, status: 'succeeded' | 'failed' | 'aborted', error?: string): this {
    const run = this.d.engine.all().find((r) => r.id === id);
    if (!run) throw new Error(`no run ${id}`);
    this.d.engine.forceFinish(run, status, error);
    return this;
  }
}

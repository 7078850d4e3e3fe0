import { isoMicros, isoNanos, predictionId, type SimClock } from './sim-clock.util';
import { ProblemError } from './sim-http.util';
import type { SimModel, SimModelCatalog } from './sim-model.catalog';
import type { SimFileStore } from './sim-file.store';
import type { SimWebhookDispatcher } from './sim-webhook.dispatcher';
import { ALL_WEBHOOK_EVENTS, TERMINAL_STATUSES } from './replicate-sim.types';
import type { JsonObject, JsonValue, SimBehaviour, SimStatus, WebhookEvent } from './replicate-sim.types';

/** One prediction or training. A training is a prediction with a destination, as it is inside Replicate. */
export interface SimRun {
  seq: number;
  id: string;
  kind: 'prediction' | 'training';
  owner: string;
  model: string;
  version: string;
  destination: string | null;
  input: JsonObject;
  output: JsonValue;
  logs: string;
  error: string | null;
  status: SimStatus;
  createdAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
  webhook: string | null;
  webhookEventsFilter: WebhookEvent[] | null;
  plan: { queueMs: number; durationMs: number; logIntervalMs: number; failMessage: string | null; abort: boolean; output: JsonValue | undefined };
  cancel: AbortController;
  done: Promise<void>;
  markDone: () => void;
  lastThrottledWebhookAt: number;
}

export interface CreateRunArgs {
  kind: SimRun['kind'];
  owner: string;
  model: SimModel;
  version: string;
  destination: string | null;
  body: Record<string, JsonValue>;
}

export interface RunEngineDeps {
  clock: SimClock;
  catalog: SimModelCatalog;
  files: SimFileStore;
  webhooks: SimWebhookDispatcher;
  behaviour: () => SimBehaviour;
  throttleMs: () => number;
  secretFor: (owner: string) => string;
  /** e.g. http://127.0.0.1:8780 — known only once the server listens */
  origin: () => string;
}

const num = (v: JsonValue | undefined, fallback: number): number => (typeof v === 'number' && v >= 0 ? v : fallback);

/** `max_train_steps` (or SimpleTuner's `--max_train_steps`) of a `config_json` input. */
function configSteps(configJson: JsonValue | undefined): JsonValue | undefined {
  if (typeof configJson !== 'string') return undefined;
  try {
    const c = JSON.parse(configJson) as Record<string, JsonValue>;
    return c.max_train_steps ?? c['--max_train_steps'];
  } catch {
    return undefined;
  }
}

/** Creates runs and drives each through starting → processing → a terminal state on the simulated clock. */
export class SimRunEngine {
  private readonly runs = new Map<string, SimRun>();
  private seq = 0;

  constructor(private readonly deps: RunEngineDeps) {}

  create(args: CreateRunArgs): SimRun {
    const { body } = args;
    const input = body.input;
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new ProblemError(422, '- input: input is required\n', 'Input validation failed', {
        invalid_fields: [{ type: 'required', field: 'input', description: 'input is required' }],
      });
    }
    const webhook = typeof body.webhook === 'string' ? body.webhook : null;
    const filter = parseFilter(body.webhook_events_filter);
    const b = this.deps.behaviour();
    let resolveDone = (): void => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    const run: SimRun = {
      seq: ++this.seq, id: predictionId(), kind: args.kind, owner: args.owner,
      model: `${args.model.owner}/${args.model.name}`, version: args.version, destination: args.destination,
      input, output: null, logs: '', error: null, status: 'starting',
      createdAtMs: this.deps.clock.now(), startedAtMs: null, completedAtMs: null, webhook, webhookEventsFilter: filter,
      plan: {
        queueMs: num(input.sim_queue_ms, b.queueMs),
        durationMs: num(input.sim_duration_ms, b.durationMs),
        logIntervalMs: Math.max(1, num(input.sim_log_interval_ms, b.logIntervalMs)),
        failMessage: typeof input.sim_fail_message === 'string' ? input.sim_fail_message : b.failMessage,
        abort: input.sim_abort === true,
        output: input.sim_output,
      },
      cancel: new AbortController(), done, markDone: resolveDone, lastThrottledWebhookAt: 0,
    };
    this.runs.set(run.id, run);
    void this.drive(run);
    return run;
  }

  get(id: string, owner: string, kind?: SimRun['kind']): SimRun {
    const r = this.runs.get(id);
    if (!r || r.owner !== owner || (kind && r.kind !== kind)) throw new ProblemError(404, 'The requested resource could not be found.');
    return r;
  }

  /** Newest first. Trainings are not listed under predictions (and vice versa). */
  list(owner: string, kind: SimRun['kind']): SimRun[] {
    return [...this.runs.values()].filter((r) => r.owner === owner && r.kind === kind).sort((a, b) => b.seq - a.seq);
  }

  all(): SimRun[] {
    return [...this.runs.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Cancel: from starting or processing → canceled (started_at set even when it never ran); terminal → unchanged. */
  cancel(run: SimRun): void {
    if (isTerminal(run.status)) return;
    run.cancel.abort();
    run.startedAtMs ??= this.deps.clock.now();
    this.finish(run, 'canceled');
  }

  /** Control-API shortcut: end a run now with the given outcome. */
  forceFinish(run: SimRun, status: 'succeeded' | 'failed' | 'aborted', error?: string): void {
    if (isTerminal(run.status)) return;
    run.cancel.abort();
    if (status !== 'aborted') run.startedAtMs ??= this.deps.clock.now();
    if (status === 'succeeded') this.succeed(run);
    else this.finish(run, status, { error: status === 'failed' ? error ?? 'Simulated failure' : null });
  }

  clear(): void {
    for (const r of this.runs.values()) r.cancel.abort();
    this.runs.clear();
  }

  /** The wire object, exactly what GET returns (and what a webhook carries). */
  toWire(run: SimRun, opts: { atCreate?: boolean } = {}): JsonObject {
    const api = `${this.deps.origin()}/v1`;
    // quirk reproduced from the recordings: a training's create response points its urls at /predictions/
    const collection = run.kind === 'training' && !opts.atCreate ? 'trainings' : 'predictions';
    const urls: JsonObject = { get: `${api}/${collection}/${run.id}`, cancel: `${api}/${collection}/${run.id}/cancel`, web: `${this.deps.origin()}/p/${run.id}` };
    const wire: JsonObject = {
      id: run.id, model: run.model, version: run.version, input: run.input, logs: run.logs, output: run.output,
      data_removed: false, error: run.error, status: run.status, source: 'api',
      created_at: opts.atCreate ? isoNanos(run.createdAtMs) : isoMicros(run.createdAtMs),
      started_at: run.startedAtMs === null ? null : isoMicros(run.startedAtMs),
      completed_at: run.completedAtMs === null ? null : isoMicros(run.completedAtMs),
      metrics: this.metrics(run), urls,
      webhook: run.webhook, webhook_events_filter: run.webhookEventsFilter, webhook_completed: null,
    };
    if (opts.atCreate && run.kind === 'training') {
      // the recorded training create response leaves these keys out entirely
      for (const k of ['output', 'started_at', 'completed_at', 'metrics', 'source', 'data_removed']) delete wire[k];
    }
    return wire;
  }

  private metrics(run: SimRun): JsonObject {
    if (run.completedAtMs === null) return {};
    const predict = run.startedAtMs === null ? 0 : (run.completedAtMs - run.startedAtMs) / 1000;
    return { predict_time: Math.max(predict, 0.000003), total_time: (run.completedAtMs - run.createdAtMs) / 1000 };
  }

  private async drive(run: SimRun): Promise<void> {
    const { clock } = this.deps;
    const signal = run.cancel.signal;
    if (!(await clock.sleep(run.plan.queueMs, signal))) return;
    if (run.plan.abort) return this.finish(run, 'aborted');
    run.status = 'processing';
    run.startedAtMs = clock.now();
    run.logs += `Starting prediction ${run.id} on ${run.model}\n`;
    this.emit(run, 'start');
    const missing = this.missingInputFile(run.input);
    if (missing) {
      run.logs += `Downloading input ${missing} failed: 404\n`;
      return this.finish(run, 'failed', { error: `FileNotFoundError: input file ${missing} is missing, deleted or expired` });
    }
    // Like SimpleTuner's trainer: the step count of an explicit input, else of the config it was given.
    const total = num(run.input.max_train_steps, num(configSteps(run.input.config_json), 100));
    const ticks = Math.max(1, Math.ceil(run.plan.durationMs / run.plan.logIntervalMs));
    for (let tick = 1; tick <= ticks; tick++) {
      const due = run.startedAtMs + Math.min(tick * run.plan.logIntervalMs, run.plan.durationMs);
      if (!(await clock.sleepUntil(due, signal))) return;
      const cur = Math.round((tick / ticks) * total);
      const pct = Math.floor((cur / total) * 100);
      const bar = '█'.repeat(Math.floor(pct / 10)).padEnd(10, ' ');
      // tqdm-style so the client's parseProgressFromLogs (and ours) can read progress
      run.logs += `${String(pct).padStart(3)}%|${bar}| ${cur}/${total} [training, loss=${(1 / (1 + tick)).toFixed(4)}]\n`;
      this.emit(run, 'logs');
    }
    if (run.plan.failMessage) {
      run.logs += `Traceback (most recent call last):\nRuntimeError: ${run.plan.failMessage}\n`;
      return this.finish(run, 'failed', { error: run.plan.failMessage });
    }
    this.succeed(run);
  }

  private succeed(run: SimRun): void {
    const weights = `${this.deps.origin()}/delivery/${run.id}/weights.tar`;
    let output: JsonValue = run.plan.output !== undefined ? run.plan.output : weights;
    if (run.kind === 'training' && run.destination && run.plan.output === undefined) {
      const [owner, name] = run.destination.split('/');
      const dest = this.deps.catalog.find(owner ?? '', name ?? '');
      const v = dest ? this.deps.catalog.addVersion(dest) : null;
      output = { version: `${run.destination}:${v?.id ?? ''}`, weights };
    }
    run.logs += 'Training complete.\n';
    this.finish(run, 'succeeded', { output });
  }

  private finish(run: SimRun, status: SimStatus, result: { output?: JsonValue; error?: string | null } = {}): void {
    run.status = status;
    run.completedAtMs = this.deps.clock.now();
    if (status === 'aborted') run.startedAtMs = null;
    run.error = result.error ?? null;
    if (result.output !== undefined) {
      run.output = result.output;
      this.emit(run, 'output', true);
    }
    this.emit(run, 'completed');
    run.markDone();
  }

  /** `logs`/`output` are throttled (≤ 1 per throttleMs); `start` and `completed` always go out when requested. */
  private emit(run: SimRun, event: WebhookEvent, force = false): void {
    if (!run.webhook) return;
    const wanted = run.webhookEventsFilter ?? this.deps.behaviour().defaultWebhookEvents;
    if (!wanted.includes(event)) return;
    if ((event === 'logs' || event === 'output') && !force) {
      if (Date.now() - run.lastThrottledWebhookAt < this.deps.throttleMs()) return;
      run.lastThrottledWebhookAt = Date.now();
    }
    this.deps.webhooks.enqueue({
      predictionId: run.id, event, status: run.status, url: run.webhook,
      secret: this.deps.secretFor(run.owner), body: JSON.stringify(this.toWire(run)),
    });
  }

  /** Inputs that are this simulator's file URLs must still exist when the run starts, like a real download. */
  private missingInputFile(input: JsonObject): string | null {
    const prefix = `${this.deps.origin()}/v1/files/`;
    for (const v of Object.values(input)) {
      if (typeof v !== 'string' || !v.startsWith(prefix)) continue;
      const id = v.slice(prefix.length).split(/[/?]/)[0] ?? '';
      if (!this.deps.files.live(id)) return v;
    }
    return null;
  }
}

export function isTerminal(s: SimStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

function parseFilter(v: JsonValue | undefined): WebhookEvent[] | null {
  if (v === undefined || v === null) return null;
  const bad = Array.isArray(v) ? v.filter((e) => typeof e !== 'string' || !ALL_WEBHOOK_EVENTS.includes(e as WebhookEvent)) : [v];
  if (!Array.isArray(v) || bad.length) {
    throw new ProblemError(422, `- webhook_events_filter: must be a subset of ${ALL_WEBHOOK_EVENTS.join(', ')}\n`, 'Input validation failed', {
      invalid_fields: [{ type: 'enum', field: 'webhook_events_filter', description: 'must be a subset of start, output, logs, completed' }],
    });
  }
  return [...new Set(v as WebhookEvent[])];
}

/**
 * Public types of the Replicate simulator. Wire objects keep Replicate's snake_case field names on purpose:
 * they are what the real API sends, and tests compare them with what the `replicate` client returns.
 */

export type SimStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';
export const TERMINAL_STATUSES: readonly SimStatus[] = ['succeeded', 'failed', 'canceled', 'aborted'];

export type WebhookEvent = 'start' | 'output' | 'logs' | 'completed';
export const ALL_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['start', 'output', 'logs', 'completed'];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface SimAccount {
  type: 'user' | 'organization';
  username: string;
  name: string;
  github_url: string | null;
}

/** A token the simulator accepts; a bare string maps to the default account. */
export type SimTokenSpec = string | { token: string; account: Partial<SimAccount> };

/** How a run behaves when its input carries no `sim_*` knob. All durations are simulated milliseconds. */
export interface SimBehaviour {
  /** time spent in `starting` (queue + cold boot) */
  queueMs: number;
  /** time spent in `processing`; becomes `metrics.predict_time` */
  durationMs: number;
  /** a log line is appended this often while processing */
  logIntervalMs: number;
  /** when set, every run fails with this `error` at the end of processing */
  failMessage: string | null;
  /** events sent when a create omits `webhook_events_filter` (the sources disagree, so it is a knob) */
  defaultWebhookEvents: WebhookEvent[];
}

export interface SimWebhookOptions {
  /** extra attempts after the first failed delivery (non-2xx, network error, timeout) */
  retries: number;
  /** real milliseconds to wait before each retry; the last value repeats */
  retryDelaysMs: number[];
  /** real milliseconds before a delivery counts as timed out */
  timeoutMs: number;
  /** minimum real milliseconds between two `logs`/`output` deliveries of one run (Replicate: 500) */
  throttleMs: number;
}

export interface SimRateLimitOptions {
  createPerMinute: number;
  otherPerMinute: number;
}

export interface ReplicateSimulatorOptions {
  /** 0 (default) picks a free port */
  port?: number;
  host?: string;
  tokens?: SimTokenSpec[];
  /** where uploads are streamed; default a fresh temp dir, removed by stop() */
  dataDir?: string;
  defaults?: Partial<SimBehaviour>;
  /** simulated time runs this many times faster than real time (default 1) */
  speed?: number;
  /** uploads of this many bytes or more are refused with 413 (Replicate: "less than 100MB") */
  maxFileBytes?: number;
  /** items per list page (Replicate: 100) */
  pageSize?: number;
  webhooks?: Partial<SimWebhookOptions>;
  /** token bucket per account; false turns it off (scripted 429s still work) */
  rateLimit?: SimRateLimitOptions | false;
  /** fixed `whsec_...` signing secret; default random per account */
  webhookSecret?: string;
  /** when set, `/_sim/*` requires `x-sim-admin-token: <adminToken>` */
  adminToken?: string;
  /** diagnostic lines (unknown multipart fields, the `file` alias, ...) */
  log?: (line: string) => void;
}

/** Which requests a scripted fault applies to: `"POST /v1/predictions"`, `"* /v1/files/*"`, `"create"` or a RegExp over `"METHOD /path"`. */
export type RoutePattern = string | RegExp;

export type FaultSpec =
  | { kind: 'status'; status: number; count: number; route?: RoutePattern; retryAfterS?: number; detail?: string }
  | { kind: 'drop'; count: number; route?: RoutePattern; when?: 'before' | 'after' }
  /** `before` (default) waits before handling; `after` handles the request, then holds the answer (a client killed meanwhile never learns of it). */
  | { kind: 'delay'; ms: number; count: number; route?: RoutePattern; when?: 'before' | 'after' };

export interface LoseWebhooksSpec {
  /** 1 drops every delivery, 0.3 drops about 30 % (decided per message, deterministically from `seed`) */
  fraction: number;
  seed?: number;
  events?: WebhookEvent[];
}

export interface RequestRecord {
  seq: number;
  method: string;
  path: string;
  /** the route template, e.g. `GET /v1/predictions/:id`; `unmatched` for 404s */
  route: string;
  at: string;
  status: number | null;
  /** what a scripted fault did to it, if anything */
  fault: 'status' | 'drop-before' | 'drop-after' | 'delay' | 'hold-after' | null;
  /** username of the authenticated account; null when the request was not (or not yet) authenticated */
  account: string | null;
}

export interface SimFileRecord {
  id: string;
  owner: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  md5: string;
  metadata: JsonValue;
  createdAtMs: number;
  expiresAtMs: number;
  deletedAtMs: number | null;
  /** multipart field the bytes came in (`content`, or the lenient `file` alias SimpleTuner uses) */
  field: string;
  diskPath: string;
}

export interface RejectedUploadRecord {
  at: string;
  reason: 'too-large' | 'no-content' | 'bad-multipart';
  bytesReceived: number;
  /** most bytes the parser held in memory at once: proof that uploads are streamed, not buffered */
  peakBufferedBytes: number;
}

export interface WebhookAttempt {
  at: string;
  responseStatus: number | null;
  error: string | null;
}

export interface WebhookDeliveryRecord {
  messageId: string;
  predictionId: string;
  event: WebhookEvent;
  status: SimStatus;
  url: string;
  outcome: 'pending' | 'delivered' | 'failed' | 'dropped';
  attempts: WebhookAttempt[];
}

export interface ModelVersion {
  id: string;
  created_at: string;
  cog_version: string;
  openapi_schema: JsonObject;
}

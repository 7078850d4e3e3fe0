import type {
  ClaimedJob,
  HeartbeatBody,
  JobReportBody,
  LogBatchBody,
  RegisterWorkerBody,
  RegisterWorkerResponse,
  WorkerCommand,
} from '@ct/contracts';
import { z } from 'zod';
import { registerWorkerResponseSchema } from '@ct/contracts';
import { GatewayError, errorFromResponse } from './gateway-errors';
import { KEPT_DIR } from './job-workspace.service';

const REQUEST_TIMEOUT_MS = 30_000;

/** Shape checks on what the gateway sends, so a version mismatch fails loudly instead of deep inside a job. */
/** The contract's own schema (labels, GPU memory and ignored labels are optional: older gateways omit them). */
const registerResponse = registerWorkerResponseSchema;
const s3Grant = z.object({
  endpoint: z.string().min(1),
  region: z.string().min(1),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  packageBucket: z.string(),
  packageKey: z.string().min(1).nullable(),
  outputBucket: z.string().min(1),
  outputPrefix: z.string(),
});
const claimedJob = z.object({
  jobId: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/, 'job ids must be safe as a directory name')
    // "." and ".." would name the work dir or its parent; "kept" is where undelivered outputs wait.
    .refine((id) => id !== '.' && id !== '..' && id !== KEPT_DIR, 'job ids must be safe as a directory name'),
  fence: z.number().int().nonnegative(),
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  dataloader: z.array(z.unknown()),
  storage: s3Grant,
  leaseTtlMs: z.number().int().positive(),
});
const commandList = z.object({ commands: z.array(z.looseObject({ type: z.string() })).default([]) });

/** The worker side of docs/WORKER-PROTOCOL.md: one method per endpoint, no retries (callers decide). */
export class GatewayClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  async register(body: RegisterWorkerBody): Promise<RegisterWorkerResponse> {
    const res = await this.post('/api/workers/register', body, 'register');
    return this.parse(registerResponse, await res.json(), 'register');
  }

  /** Long-polls for a job; null when none arrived within waitMs. */
  async claim(waitMs: number, signal?: AbortSignal): Promise<ClaimedJob | null> {
    const res = await this.post(`/api/workers/claim?waitMs=${waitMs}`, {}, 'claim', waitMs + REQUEST_TIMEOUT_MS, signal);
    if (res.status === 204) return null;
    return this.parse(claimedJob, await res.json(), 'claim');
  }

  async heartbeat(body: HeartbeatBody): Promise<WorkerCommand[]> {
    const res = await this.post('/api/workers/heartbeat', body, 'heartbeat');
    const parsed = this.parse(commandList, await res.json().catch(() => ({})), 'heartbeat');
    // Unknown command types come from a newer gateway; ignoring them beats crashing.
    return parsed.commands.filter(isKnownCommand);
  }

  async sendLogs(jobId: string, body: LogBatchBody): Promise<void> {
    await this.post(`/api/workers/jobs/${encodeURIComponent(jobId)}/logs`, body, 'logs');
  }

  async report(jobId: string, body: JobReportBody): Promise<void> {
    await this.post(`/api/workers/jobs/${encodeURIComponent(jobId)}/report`, body, `report ${body.kind}`);
  }

  private async post(path: string, body: unknown, what: string, timeoutMs = REQUEST_TIMEOUT_MS, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      // fetch only throws for network-level trouble (refused, reset, DNS, timeout): always worth a retry.
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message;
      throw new GatewayError(`${what}: ${(err as Error).message}${detail ? ` (${detail})` : ''}`, null, cause?.code, true);
    }
    if (!res.ok) throw await errorFromResponse(res, what);
    return res;
  }

  private parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new GatewayError(`${what}: unexpected response from gateway: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 200, 'bad_response', false);
    }
    return parsed.data;
  }
}

function isKnownCommand(c: { type: string } & Record<string, unknown>): c is WorkerCommand & Record<string, unknown> {
  if (c.type === 'cancel') return typeof c.jobId === 'string';
  if (c.type === 'shutdown') return true;
  return c.type === 'drain';
}

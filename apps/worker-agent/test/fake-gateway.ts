import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClaimedJob, WorkerCommand } from '@ct/contracts';

export interface Recorded {
  path: string;
  body: Record<string, unknown>;
  /** the status the fake answered with */
  status: number;
}

/** An in-process stand-in for the gateway's worker endpoints, which a test can take down and bring back. */
export class FakeGateway {
  readonly calls: Recorded[] = [];
  readonly jobs: ClaimedJob[] = [];
  readonly commands: WorkerCommand[] = [];
  /** ids of the jobs handed out by claims, in order */
  readonly claimed: string[] = [];
  token = 'good-token';
  /** When set, job calls (logs/report/heartbeat with a job) answer 409 stale_lease. */
  staleLease = false;
  /** When set, every call answers 503 (a proxy in front of a gateway that is restarting). */
  unavailable = false;
  private server: Server | null = null;
  private port = 0;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server?.listening ? this.server.close(r) : r(undefined)));
  }

  /** Stops listening: connections are refused until comeBack(), as with a gateway that is down. */
  goDown(): Promise<void> {
    return this.stop();
  }

  /** Listens again on the same port. */
  comeBack(): Promise<void> {
    return this.start();
  }

  reports(jobId?: string): Record<string, unknown>[] {
    return this.accepted(jobId, '/report').map((c) => c.body);
  }

  logLines(jobId?: string): string[] {
    return this.accepted(jobId, '/logs').flatMap((c) => (c.body.lines as { line: string }[]).map((l) => l.line));
  }

  private accepted(jobId: string | undefined, suffix: string): Recorded[] {
    const prefix = jobId === undefined ? '/api/workers/jobs/' : `/api/workers/jobs/${jobId}/`;
    return this.calls.filter((c) => c.status < 300 && c.path.startsWith(prefix) && c.path.endsWith(suffix));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? '').split('?')[0]!;
    const body = raw.length ? (JSON.parse(raw.toString()) as Record<string, unknown>) : {};
    const call: Recorded = { path, body, status: 0 };
    this.calls.push(call);
    if (this.unavailable) return this.problem(res, call, 503, 'unavailable');
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.problem(res, call, 401, 'unauthorized');
    await this.route(call, res);
  }

  private async route(call: Recorded, res: ServerResponse): Promise<void> {
    const { path, body } = call;
    if (path === '/api/workers/register') return this.json(res, call, 200, { workerId: 'w-1', heartbeatIntervalMs: 100, leaseTtlMs: 5000 });
    if (path === '/api/workers/claim') {
      const job = this.jobs.shift();
      if (job) {
        this.claimed.push(job.jobId);
        return this.json(res, call, 200, job);
      }
      await new Promise((r) => setTimeout(r, 50));
      call.status = 204;
      res.writeHead(204).end();
      return;
    }
    if (this.staleLease && (path.startsWith('/api/workers/jobs/') || body.jobId)) return this.problem(res, call, 409, 'stale_lease');
    if (path === '/api/workers/heartbeat') return this.json(res, call, 200, { commands: this.commands.splice(0) });
    return this.json(res, call, 202, {});
  }

  private json(res: ServerResponse, call: Recorded, status: number, body: unknown): void {
    call.status = status;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private problem(res: ServerResponse, call: Recorded, status: number, code: string): void {
    call.status = status;
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: code, status, detail: `fake ${code}`, code }));
  }
}

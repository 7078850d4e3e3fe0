import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClaimedJob, WorkerCommand } from '@ct/contracts';

export interface Recorded {
  path: string;
  body: Record<string, unknown>;
}

/** An in-process stand-in for the gateway's worker endpoints plus a path-style S3 bucket store. */
export class FakeGateway {
  readonly calls: Recorded[] = [];
  readonly objects = new Map<string, Buffer>();
  readonly jobs: ClaimedJob[] = [];
  readonly commands: WorkerCommand[] = [];
  token = 'good-token';
  /** When set, job calls (logs/report/heartbeat with a job) answer 409 stale_lease. */
  staleLease = false;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  reports(): Record<string, unknown>[] {
    return this.calls.filter((c) => c.path.endsWith('/report')).map((c) => c.body);
  }

  logLines(): string[] {
    return this.calls.filter((c) => c.path.endsWith('/logs')).flatMap((c) => (c.body.lines as { line: string }[]).map((l) => l.line));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? '').split('?')[0]!;
    if (path.startsWith('/s3/')) return this.s3(req.method ?? 'GET', decodeURIComponent(path.slice(4)), raw, res);
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.problem(res, 401, 'unauthorized');
    const body = raw.length ? (JSON.parse(raw.toString()) as Record<string, unknown>) : {};
    this.calls.push({ path, body });
    await this.route(path, body, res);
  }

  private async route(path: string, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
    if (path === '/api/workers/register') return this.json(res, 200, { workerId: 'w-1', heartbeatIntervalMs: 100, leaseTtlMs: 5000 });
    if (path === '/api/workers/claim') {
      const job = this.jobs.shift();
      if (job) return this.json(res, 200, job);
      await new Promise((r) => setTimeout(r, 50));
      res.writeHead(204).end();
      return;
    }
    if (this.staleLease && (path.startsWith('/api/workers/jobs/') || body.jobId)) return this.problem(res, 409, 'stale_lease');
    if (path === '/api/workers/heartbeat') return this.json(res, 200, { commands: this.commands.splice(0) });
    return this.json(res, 202, {});
  }

  private s3(method: string, key: string, body: Buffer, res: ServerResponse): void {
    if (method === 'PUT') {
      this.objects.set(key, body);
      res.writeHead(200, { etag: '"fake"' }).end();
      return;
    }
    const obj = this.objects.get(key);
    if (!obj) return void res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
    res.writeHead(200, { 'content-length': obj.length, 'content-type': 'application/zip' }).end(obj);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private problem(res: ServerResponse, status: number, code: string): void {
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: code, status, detail: `fake ${code}`, code }));
  }
}

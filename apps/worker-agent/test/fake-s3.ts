import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Request {
  method: string;
  /** `bucket/key` ('' for the endpoint's root) */
  key: string;
  query: URLSearchParams;
  /** what the fake answered: ok, an injected HTTP error, or a dropped connection */
  outcome: 'ok' | 'fault' | 'reset';
}

/**
 * An injected failure: an S3 error document with this status and code (or, with `problem`, the JSON problem
 * the gateway's storage proxy sends while the storage service is down), or a connection reset.
 */
export type S3Fault = { status: number; code: string; problem?: boolean } | 'reset';

/** Decides, per request, whether it fails; null lets it through. */
export type S3FaultRule = (req: Omit<S3Request, 'outcome'>) => S3Fault | null;

const XML = { 'content-type': 'application/xml' };

/**
 * A path-style S3 endpoint in memory: GET/PUT objects and multipart uploads, with injectable faults, and a
 * count of committed writes per key so a test can tell an output arrived exactly once.
 */
export class FakeS3 {
  readonly objects = new Map<string, Buffer>();
  readonly requests: S3Request[] = [];
  /** committed writes per `bucket/key` (a PUT, or a completed multipart upload) */
  readonly writes = new Map<string, number>();
  fault: S3FaultRule | null = null;
  url = '';
  private readonly uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  /** Requests that reached the fake for `key` (any method), optionally only those with this outcome. */
  requestsFor(key: string, outcome?: S3Request['outcome']): S3Request[] {
    return this.requests.filter((r) => r.key === key && (outcome === undefined || r.outcome === outcome));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const call = { method: req.method ?? 'GET', key: decodeURIComponent(url.pathname.slice(1)), query: url.searchParams };
    const fault = this.fault?.(call) ?? null;
    this.requests.push({ ...call, outcome: fault === null ? 'ok' : fault === 'reset' ? 'reset' : 'fault' });
    if (fault === 'reset') return void req.socket.destroy();
    if (fault?.problem) return void res.writeHead(fault.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ status: fault.status, code: fault.code }));
    if (fault) return this.error(res, fault.status, fault.code);
    this.route(call.method, call.key, call.query, Buffer.concat(chunks), res);
  }

  private route(method: string, key: string, q: URLSearchParams, body: Buffer, res: ServerResponse): void {
    // An anonymous request to the root: a real S3 endpoint answers AccessDenied.
    if (key === '' || !key.includes('/')) return this.error(res, 403, 'AccessDenied');
    if (method === 'POST' && q.has('uploads')) return this.createUpload(key, res);
    const uploadId = q.get('uploadId');
    if (uploadId !== null) return this.multipart(method, key, uploadId, q, body, res);
    if (method === 'PUT') return this.commit(key, body, res);
    const obj = this.objects.get(key);
    if (!obj) return this.error(res, 404, 'NoSuchKey');
    res.writeHead(200, { 'content-length': obj.length, 'content-type': 'application/octet-stream', etag: '"fake"' }).end(obj);
  }

  private createUpload(key: string, res: ServerResponse): void {
    const id = randomUUID();
    this.uploads.set(id, { key, parts: new Map() });
    const [bucket = '', ...rest] = key.split('/');
    res.writeHead(200, XML).end(
      `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${rest.join('/')}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
    );
  }

  private multipart(method: string, key: string, uploadId: string, q: URLSearchParams, body: Buffer, res: ServerResponse): void {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) return this.error(res, 404, 'NoSuchUpload');
    if (method === 'DELETE') {
      this.uploads.delete(uploadId);
      return void res.writeHead(204).end();
    }
    if (method === 'PUT') {
      upload.parts.set(Number(q.get('partNumber')), body);
      return void res.writeHead(200, { etag: `"part-${q.get('partNumber')}"` }).end();
    }
    this.uploads.delete(uploadId);
    const parts = [...upload.parts.entries()].sort(([a], [b]) => a - b).map(([, data]) => data);
    this.record(key, Buffer.concat(parts));
    res.writeHead(200, XML).end(`<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><ETag>"fake-mpu"</ETag></CompleteMultipartUploadResult>`);
  }

  private commit(key: string, body: Buffer, res: ServerResponse): void {
    this.record(key, body);
    res.writeHead(200, { etag: '"fake"' }).end();
  }

  private record(key: string, body: Buffer): void {
    this.objects.set(key, body);
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
  }

  private error(res: ServerResponse, status: number, code: string): void {
    res.writeHead(status, XML).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>fake ${code}</Message><RequestId>fake</RequestId></Error>`);
  }
}

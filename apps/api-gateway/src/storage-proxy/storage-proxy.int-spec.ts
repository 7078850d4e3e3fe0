import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, Server, type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import express from 'express';
import {
  createS3Handler, deriveSecret, FsStorageDriver, jobAccessKeyId, parseAccessKeyId, type ResolvedCredential,
} from '@ct/storage';
import { storageProxy, type StorageProxyOptions } from './storage-proxy';

const MASTER_KEY = 'proxy-test-master-key';
const ACCESS_KEY_ID = jobAccessKeyId('job1', 1);
const listen = async (server: Server | net.Server, port = 0): Promise<number> => {
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
};
const close = (server: Server | net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
/** A port nothing listens on (yet): storage that is down. */
const freePort = async (): Promise<number> => {
  const s = net.createServer();
  const port = await listen(s);
  await close(s);
  return port;
};

async function resolveCredential(accessKeyId: string): Promise<ResolvedCredential | null> {
  if (parseAccessKeyId(accessKeyId)?.kind !== 'job') return null;
  return { secretAccessKey: deriveSecret(MASTER_KEY, accessKeyId), grants: [{ bucket: 'outputs', prefix: 'org1/job1/', actions: ['read', 'write', 'list'] }], principal: { orgId: 'org1', jobId: 'job1' } };
}

/** The storage service's S3 endpoint on a real server, on `port` when given (storage coming back on its address). */
async function startStorage(driver: FsStorageDriver, port = 0): Promise<{ server: Server; port: number }> {
  const handler = createS3Handler({ driver, resolveCredential });
  const server = createServer((req, res) => void handler(req, res));
  return { server, port: await listen(server, port) };
}

/** The gateway as main.ts mounts the proxy (before any body parser), counting the 503s it answers. */
async function startGateway(storageUrl: string, opts?: StorageProxyOptions): Promise<{ server: Server; port: number; unavailable: () => number }> {
  let unavailable = 0;
  const app = express();
  app.use((_req, res, next) => {
    res.on('finish', () => void (res.statusCode === 503 && unavailable++));
    next();
  });
  app.use('/api/cloud/storage', storageProxy(storageUrl, opts));
  const server = createServer(app);
  return { server, port: await listen(server), unavailable: () => unavailable };
}

function client(gatewayPort: number, opts: { maxAttempts?: number; secret?: string } = {}): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${gatewayPort}/api/cloud/storage`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: opts.secret ?? deriveSecret(MASTER_KEY, ACCESS_KEY_ID) },
    maxAttempts: opts.maxAttempts ?? 1,
  });
}

const failure = async (p: Promise<unknown>): Promise<{ name: string; status?: number }> =>
  p.then(
    () => ({ name: 'ok' }),
    (e: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ name: e.name, status: e.$metadata?.httpStatusCode }),
  );

describe('storage proxy', () => {
  let dir: string;
  let driver: FsStorageDriver;
  const servers: Array<Server | net.Server> = [];
  const clients: S3Client[] = [];
  const track = <T extends Server | net.Server>(s: T): T => (servers.push(s), s);
  const s3 = (port: number, opts?: Parameters<typeof client>[1]): S3Client => {
    const c = client(port, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ct-proxy-'));
    driver = new FsStorageDriver(dir);
    await driver.ensureBucket('outputs');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const s of servers.splice(0)) {
      if (s instanceof Server) s.closeAllConnections();
      await close(s);
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('passes S3 requests through with the Host and path they were signed with', async () => {
    const storage = await startStorage(driver);
    track(storage.server);
    const gw = await startGateway(`http://127.0.0.1:${storage.port}`);
    track(gw.server);
    const c = s3(gw.port);
    const data = randomBytes(3 * 1024 * 1024 + 5);
    await c.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/dir with space/model.bin', Body: Readable.from([data]), ContentLength: data.length }));
    const got = await c.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/dir with space/model.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    const list = await c.send(new ListObjectsV2Command({ Bucket: 'outputs', Prefix: 'org1/job1/dir with space/' }));
    expect(list.Contents?.map((o) => o.Key)).toEqual(['org1/job1/dir with space/model.bin']);
    expect(await failure(s3(gw.port, { secret: 'x'.repeat(40) }).send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/dir with space/model.bin' })))).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
  });

  it('streams an upload to storage as it arrives rather than buffering it', async () => {
    const received: Buffer[] = [];
    const upstream = track(createServer((req, res) => {
      req.on('data', (c: Buffer) => received.push(c));
      req.on('end', () => res.end('done'));
    }));
    const gw = await startGateway(`http://127.0.0.1:${await listen(upstream)}`);
    track(gw.server);
    const req = request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path: '/api/cloud/storage/outputs/org1/job1/x', headers: { 'content-length': '8' } });
    const answered = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
    req.write('half');
    for (let i = 0; i < 200 && Buffer.concat(received).length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(received).toString()).toBe('half');
    req.end('done');
    expect((await answered).statusCode).toBe(200);
    expect(Buffer.concat(received).toString()).toBe('halfdone');
  });

  it('answers S3 XML 503 ServiceUnavailable with Retry-After while storage is down', async () => {
    const gw = await startGateway(`http://127.0.0.1:${await freePort()}`);
    track(gw.server);
    const c = s3(gw.port);
    expect(await failure(c.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/a.bin' })))).toEqual({ name: 'ServiceUnavailable', status: 503 });
    expect(await failure(c.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/a.bin', Body: randomBytes(1024 * 1024) })))).toEqual({ name: 'ServiceUnavailable', status: 503 });
    const raw = await fetch(`http://127.0.0.1:${gw.port}/api/cloud/storage/outputs/org1/job1/a.bin?x-id=GetObject`);
    expect(raw.status).toBe(503);
    expect(raw.headers.get('content-type')).toBe('application/xml');
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(raw.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
    const body = await raw.text();
    expect(body).toContain('<Error><Code>ServiceUnavailable</Code>');
    expect(body).toContain('<Resource>/api/cloud/storage/outputs/org1/job1/a.bin</Resource>');
  });

  it('answers 503 ServiceUnavailable when storage dies before answering (mid-upload)', async () => {
    // Storage that reads the start of the upload, then its process is gone.
    const dying = track(net.createServer((socket) => socket.once('data', () => socket.destroy())));
    const gw = await startGateway(`http://127.0.0.1:${await listen(dying)}`);
    track(gw.server);
    const put = s3(gw.port).send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/b.bin', Body: randomBytes(2 * 1024 * 1024) }));
    expect(await failure(put)).toEqual({ name: 'ServiceUnavailable', status: 503 });
  });

  it('cuts the connection when storage dies after it began to answer', async () => {
    const dying = track(net.createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\npartial');
        setTimeout(() => socket.destroy(), 50);
      });
    }));
    const gw = await startGateway(`http://127.0.0.1:${await listen(dying)}`);
    track(gw.server);
    const res = await fetch(`http://127.0.0.1:${gw.port}/api/cloud/storage/outputs/org1/job1/c.bin`);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('lets a retrying S3 client succeed once storage comes back within Retry-After', async () => {
    await driver.putObject('outputs', 'org1/job1/back.txt', Readable.from([Buffer.from('back again')]), { contentLength: 10 });
    const storagePort = await freePort();
    const gw = await startGateway(`http://127.0.0.1:${storagePort}`, { retryAfterSeconds: 2 });
    track(gw.server);
    // The SDK's default: 3 attempts. Its own backoff (50 ms base) would spend them all within ~150 ms; Retry-After
    // stretches each wait to 2 s, so storage back after 600 ms is in time.
    const c = s3(gw.port, { maxAttempts: 3 });
    const get = c.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/back.txt' }));
    const put = c.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/sent-while-down.txt', Body: 'queued upload' }));
    for (let i = 0; i < 300 && gw.unavailable() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gw.unavailable()).toBe(2);
    await new Promise((r) => setTimeout(r, 600));
    track((await startStorage(driver, storagePort)).server);

    const got = await get;
    expect(await got.Body!.transformToString()).toBe('back again');
    expect(got.$metadata.attempts).toBe(2);
    expect((await put).$metadata.attempts).toBe(2);
    const stored = await driver.getObject('outputs', 'org1/job1/sent-while-down.txt');
    expect(Buffer.concat(await stored.body.toArray()).toString()).toBe('queued upload');
  }, 30_000);
});

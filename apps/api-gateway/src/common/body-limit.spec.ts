import express from 'express';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { declaredLengthLimit } from './body-limit';

/** The early 413 must reach a client that is still sending, on a connection that closes after the answer. */
describe('declaredLengthLimit', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    const app = express();
    app.use(declaredLengthLimit(() => 100_000));
    app.post('/x', (_req, res) => void res.status(204).end());
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));

  /** Sends `total` bytes in 16 KiB pieces, a few ms apart, with Connection: close; answers the status or the socket error. */
  const slowPost = (total: number, declared = total) =>
    new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/x', agent: false, headers: { connection: 'close', 'content-type': 'application/json', 'content-length': declared } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      let sent = 0;
      const piece = Buffer.alloc(16_384, 0x20);
      const tick = (): void => {
        if (sent >= total) return void (declared === total && req.end());
        const n = Math.min(piece.length, total - sent);
        sent += n;
        req.write(piece.subarray(0, n), () => setTimeout(tick, 2));
      };
      tick();
    });

  /**
   * A client busy elsewhere: it sends its whole body but reads the answer only afterwards. Answering and closing
   * while the body still arrives resets the connection, and the reset throws away the answer not yet read.
   */
  const busyClient = (total: number) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      socket.pause();
      socket.on('data', (d: Buffer) => received.push(d));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(received.length ? Buffer.concat(received).toString().split('\r\n')[0]! : (err.code ?? 'error')));
      socket.on('end', () => resolve(Buffer.concat(received).toString().split('\r\n')[0]!));
      socket.write(`POST /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`);
      let sent = 0;
      const tick = (): void => {
        if (sent >= total) return void setTimeout(() => socket.resume(), 100);
        const n = Math.min(16_384, total - sent);
        sent += n;
        if (!socket.destroyed) socket.write(Buffer.alloc(n, 0x20), () => setTimeout(tick, 2));
        else socket.resume();
      };
      tick();
    });

  it('answers 413 to a body a little over the limit after reading it, so a busy client still gets it', async () => {
    expect(await busyClient(350_000)).toBe('HTTP/1.1 413 Payload Too Large');
    const answers = await Promise.all(Array.from({ length: 5 }, () => slowPost(350_000)));
    expect(answers).toEqual(['413', '413', '413', '413', '413']);
  });

  it('answers at once a body declared far over the limit (it does not wait for 100 GB)', async () => {
    const started = Date.now();
    expect(await slowPost(500, 100 * 2 ** 30)).toBe('413');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

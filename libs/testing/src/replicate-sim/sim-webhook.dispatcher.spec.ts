import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhook, SimWebhookDispatcher } from './sim-webhook.dispatcher';

describe('signWebhook', () => {
  it('matches the Standard Webhooks (Svix) test vector', () => {
    expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });
});

describe('SimWebhookDispatcher', () => {
  it('retries a failed delivery with the same webhook-id, does not follow redirects, and keeps per-run order', async () => {
    const seen: Array<{ id: string; status: number; body: string }> = [];
    const plan = [500, 302, 200, 200];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = plan.shift() ?? 200;
        seen.push({ id: String(req.headers['webhook-id']), status, body });
        res.writeHead(status, status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const d = new SimWebhookDispatcher({ retries: 3, retryDelaysMs: [10], timeoutMs: 1000, throttleMs: 0 });
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    d.enqueue({ predictionId: 'p1', event: 'start', status: 'processing', url, secret, body: '{"n":1}' });
    d.enqueue({ predictionId: 'p1', event: 'completed', status: 'succeeded', url, secret, body: '{"n":2}' });
    await d.idle();
    server.close();
    expect(seen.map((s) => [s.status, s.body])).toEqual([[500, '{"n":1}'], [302, '{"n":1}'], [200, '{"n":1}'], [200, '{"n":2}']]);
    expect(new Set(seen.slice(0, 3).map((s) => s.id)).size).toBe(1);
    expect(d.deliveries.map((x) => [x.event, x.outcome, x.attempts.length])).toEqual([['start', 'delivered', 3], ['completed', 'delivered', 1]]);
  });

  it('drops a seeded share of deliveries, the same share on every run', () => {
    const outcomes = (): string[] => {
      const d = new SimWebhookDispatcher({ retries: 0, retryDelaysMs: [1], timeoutMs: 10, throttleMs: 0 });
      d.loseWebhooks({ fraction: 0.5, seed: 42 });
      for (let i = 0; i < 20; i++) d.enqueue({ predictionId: `p${i}`, event: 'completed', status: 'succeeded', url: 'http://127.0.0.1:9/', secret: 'whsec_AA==', body: '{}' });
      d.stop();
      return d.deliveries.map((x) => x.outcome);
    };
    const a = outcomes();
    expect(a).toEqual(outcomes());
    const dropped = a.filter((o) => o === 'dropped').length;
    expect(dropped).toBeGreaterThan(3);
    expect(dropped).toBeLessThan(17);
  });
});

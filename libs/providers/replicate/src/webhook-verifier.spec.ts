import { randomBytes } from 'node:crypto';
import { InMemoryReplayGuard } from './replay.guard';
import { signatureMatches, signWebhook, WebhookVerifier } from './webhook-verifier';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const NOW_S = 1_735_000_000;
const body = JSON.stringify({ id: 'zz4ibbonubfz7carwiefibzgga', status: 'succeeded', metrics: { predict_time: 12.5 } });

function request(opts: { id?: string; ts?: number; sig?: string; raw?: string } = {}) {
  const id = opts.id ?? 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const ts = opts.ts ?? NOW_S;
  const raw = opts.raw ?? body;
  return { headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': opts.sig ?? signWebhook(SECRET, id, ts, raw) }, rawBody: raw };
}

function verifier(getSecret: () => Promise<string> = async () => SECRET, nowMs = NOW_S * 1000) {
  let clock = nowMs;
  const v = new WebhookVerifier({ getSecret, replayGuard: new InMemoryReplayGuard(600_000, () => clock), now: () => clock });
  return { v, tick: (ms: number) => (clock += ms) };
}

describe('WebhookVerifier', () => {
  it('matches the Standard Webhooks (Svix) test vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(signatureMatches(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', '{"test": 2432232314}', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')).toBe(true);
  });

  it('accepts a valid delivery and returns the parsed prediction', async () => {
    const r = await verifier().v.verify(request());
    expect(r).toMatchObject({ ok: true, webhookId: 'msg_p5jXN8AQM9LWM0D4loKWxJek', event: { status: 'succeeded' } });
  });

  it('reads a fetch Headers object and a Buffer body', async () => {
    const req = request();
    const r = await verifier().v.verify({ headers: new Headers(req.headers), rawBody: Buffer.from(req.rawBody) });
    expect(r.ok).toBe(true);
  });

  it('rejects a tampered body', async () => {
    const req = request();
    const r = await verifier().v.verify({ ...req, rawBody: req.rawBody.replace('succeeded', 'failed') });
    expect(r).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a signature made with another secret', async () => {
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const r = await verifier().v.verify(request({ sig: signWebhook(other, 'msg_p5jXN8AQM9LWM0D4loKWxJek', NOW_S, body) }));
    expect(r).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it.each([[-6 * 60], [6 * 60]])('rejects a timestamp %i s away from now', async (offset) => {
    const r = await verifier().v.verify(request({ ts: NOW_S + offset }));
    expect(r).toMatchObject({ ok: false, reason: 'stale_timestamp' });
  });

  it('accepts a timestamp 4 minutes away', async () => {
    expect((await verifier().v.verify(request({ ts: NOW_S - 240 }))).ok).toBe(true);
  });

  it('rejects a replayed message id, after checking the signature', async () => {
    const { v } = verifier();
    expect((await v.verify(request())).ok).toBe(true);
    expect(await v.verify(request())).toMatchObject({ ok: false, reason: 'replayed' });
    // a forged message with a fresh id does not burn anything
    expect(await v.verify(request({ id: 'msg_new', sig: 'v1,AAAA' }))).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect((await v.verify(request({ id: 'msg_new' }))).ok).toBe(true);
  });

  it('accepts when one of several signatures matches (secret rotation on the sender side)', async () => {
    const good = signWebhook(SECRET, 'msg_p5jXN8AQM9LWM0D4loKWxJek', NOW_S, body);
    const r = await verifier().v.verify(request({ sig: `v1,bm90IHRoaXMgb25l v1a,ignoredAsymmetric ${good}` }));
    expect(r.ok).toBe(true);
  });

  it('reports missing headers and malformed input', async () => {
    const { v } = verifier();
    expect(await v.verify({ headers: { 'webhook-id': 'msg_1' }, rawBody: body })).toMatchObject({ ok: false, reason: 'missing_headers' });
    expect(await v.verify(request({ raw: 'not json' }))).toMatchObject({ ok: false, reason: 'malformed' });
    const req = request();
    expect(await v.verify({ ...req, headers: { ...req.headers, 'webhook-timestamp': '12:00' } })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('caches the secret and refetches it after the TTL', async () => {
    const getSecret = jest.fn(async () => SECRET);
    const { v, tick } = verifier(getSecret);
    await v.verify(request({ id: 'a' }));
    await v.verify(request({ id: 'b' }));
    expect(getSecret).toHaveBeenCalledTimes(1);
    tick(5 * 60_000);
    await v.verify(request({ id: 'c', ts: NOW_S + 300 }));
    expect(getSecret).toHaveBeenCalledTimes(2);
  });

  it('refetches once when the signature fails (the secret was rotated), rate-limited', async () => {
    const rotated = `whsec_${randomBytes(24).toString('base64')}`;
    let current = SECRET;
    const getSecret = jest.fn(async () => current);
    const { v, tick } = verifier(getSecret);
    expect((await v.verify(request({ id: 'a' }))).ok).toBe(true);
    current = rotated;
    const req = { ...request({ id: 'b' }), headers: { ...request().headers, 'webhook-id': 'b', 'webhook-signature': signWebhook(rotated, 'b', NOW_S, body) } };
    expect((await v.verify(req)).ok).toBe(true);
    expect(getSecret).toHaveBeenCalledTimes(2);
    // a burst of forgeries does not make a request to Replicate each
    for (const id of ['x', 'y', 'z']) await v.verify(request({ id, sig: 'v1,Zm9yZ2Vk' }));
    expect(getSecret).toHaveBeenCalledTimes(2);
    tick(30_000);
    await v.verify(request({ id: 'w', sig: 'v1,Zm9yZ2Vk' }));
    expect(getSecret).toHaveBeenCalledTimes(3);
  });
});

describe('WebhookVerifier kept for many deliveries', () => {
  it('fetches the secret once for a burst of concurrent deliveries, and takes a replay guard per call', async () => {
    let calls = 0;
    const getSecret = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return SECRET;
    };
    const v = new WebhookVerifier({ getSecret, now: () => NOW_S * 1000 });
    const guards = Array.from({ length: 20 }, () => new InMemoryReplayGuard());
    const results = await Promise.all(guards.map((g, i) => v.verify(request({ id: `msg_${i}` }), g)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls).toBe(1);
    // each call used its own guard: the same id is new to a fresh guard and a replay to a used one
    expect((await v.verify(request({ id: 'msg_0' }), new InMemoryReplayGuard())).ok).toBe(true);
    expect(await v.verify(request({ id: 'msg_0' }), guards[0])).toMatchObject({ ok: false, reason: 'replayed' });
    await expect(v.verify(request())).rejects.toThrow('no replay guard');
  });
});

describe('InMemoryReplayGuard', () => {
  it('forgets ids after the TTL', async () => {
    let t = 0;
    const g = new InMemoryReplayGuard(1000, () => t);
    expect(await g.seen('a')).toBe(false);
    expect(await g.seen('a')).toBe(true);
    t = 1000;
    expect(await g.seen('a')).toBe(false);
    expect(g.size).toBe(1);
  });
});

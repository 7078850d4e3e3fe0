import { ResendBlockedError } from './replicate-errors';
import { guardCreates, isPredictionCreate } from './resend.guard';

const dropped = (): Promise<Response> => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' }) }));

describe('guardCreates', () => {
  it('recognises the create route', () => {
    expect(isPredictionCreate('POST', '/v1/predictions')).toBe(true);
    expect(isPredictionCreate('POST', '/v1/predictions/abc/cancel')).toBe(false);
    expect(isPredictionCreate('GET', '/v1/predictions')).toBe(false);
  });

  it('refuses to re-send a create whose connection dropped', async () => {
    const base = jest.fn(dropped);
    const f = guardCreates(base as unknown as typeof fetch);
    const init = { method: 'POST', body: '{}' };
    await expect(f(new URL('http://sim/v1/predictions'), init)).rejects.toThrow('fetch failed');
    await expect(f(new URL('http://sim/v1/predictions'), init)).rejects.toBeInstanceOf(ResendBlockedError);
    expect(base).toHaveBeenCalledTimes(1);
  });

  it('lets GETs and never-sent creates retry', async () => {
    const refused = jest.fn(() => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) })));
    const f = guardCreates(refused as unknown as typeof fetch);
    const init = { method: 'POST', body: '{}' };
    await expect(f('http://sim/v1/predictions', init)).rejects.toThrow('fetch failed');
    await expect(f('http://sim/v1/predictions', init)).rejects.toThrow('fetch failed');
    const get = { method: 'GET' };
    const g = guardCreates(jest.fn(dropped) as unknown as typeof fetch);
    await expect(g('http://sim/v1/predictions/x', get)).rejects.toThrow('fetch failed');
    await expect(g('http://sim/v1/predictions/x', get)).rejects.toThrow('fetch failed');
    expect(refused).toHaveBeenCalledTimes(2);
  });
});

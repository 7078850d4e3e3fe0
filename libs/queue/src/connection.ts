import IORedis, { type Redis, type RedisOptions } from 'ioredis';

/** ioredis options from a `redis://[user:password@]host:port[/db]` (or `rediss://`) URL. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * BullMQ workers and subscribers need `maxRetriesPerRequest: null` (they wait out an outage); producers fail
 * fast instead of buffering forever, so the outbox keeps the work until Redis answers again.
 */
export function createRedis(url: string, role: 'worker' | 'producer' | 'subscriber', extra: RedisOptions = {}): Redis {
  const client = new IORedis(url, {
    maxRetriesPerRequest: role === 'producer' ? 1 : null,
    enableOfflineQueue: role !== 'producer',
    connectTimeout: 5_000,
    lazyConnect: false,
    // A reconnect loop that backs off to 2 s: an outage is noticed within seconds of its end.
    retryStrategy: (times) => Math.min(100 * 2 ** times, 2_000),
    ...extra,
  });
  // While Redis is down every reconnect attempt fails: the calls that need it fail (and say so), /health/ready
  // reports it, and the processors log it (throttled); one line per attempt here would only be noise.
  client.on('error', () => undefined);
  return client;
}
export type { Redis };

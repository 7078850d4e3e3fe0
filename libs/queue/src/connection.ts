import IORedis, { type Redis, type RedisOptions } from 'ioredis';

/** BullMQ workers need `maxRetriesPerRequest: null`; producers fail fast instead of buffering forever. */
export function createRedis(url: string, role: 'worker' | 'producer' | 'subscriber', extra: RedisOptions = {}): Redis {
  return new IORedis(url, {
    maxRetriesPerRequest: role === 'producer' ? 1 : null,
    enableOfflineQueue: role !== 'producer',
    connectTimeout: 5_000,
    lazyConnect: false,
    ...extra,
  });
}
export type { Redis };

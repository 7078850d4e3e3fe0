export interface QueueConfig {
  redisUrl: string;
  /** QUEUE_PREFIX: every BullMQ key and event channel lives under it. */
  prefix: string;
}
export const QUEUE_CONFIG = Symbol('QUEUE_CONFIG');
/** The producer connection (fails fast; see createRedis). */
export const PRODUCER_REDIS = Symbol('PRODUCER_REDIS');

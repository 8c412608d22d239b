/** The Redis and Redis Cluster engines: the public API. */
export { RedisStore } from './redis-store.js';
export { DEFAULT_REDIS_TUNING } from './options.js';
export type { RedisStoreOptions, RedisTuning } from './options.js';

/**
 * Options of the Redis engines. `RedisStore.connect` takes the store settings
 * every engine shares, the target (one server, or a cluster's seed nodes) and,
 * optionally, tuning; defaults suit a production deployment.
 */
import type { RedisCredentials, RedisHistoryForm, RedisUserSessionsForm, StoreSettings, TlsFiles } from '../session-store.js';

export interface RedisTuning {
  /** Prefix of every key, so that Tessera can share a Redis with other applications. @default "ts:" */
  readonly keyPrefix: string;
  /** Longest wait for a TCP connection to a node. @default 1000 */
  readonly connectTimeoutMs: number;
  /** Longest a store call waits for Redis, retries included; past it the call fails as unavailable. @default 1500 */
  readonly commandTimeoutMs: number;
  /** Longest `connect()` waits for the first connection before it fails. @default 5000 */
  readonly startupTimeoutMs: number;
  /** Commands queued per connection before new ones fail at once (a stalled server). @default 10000 */
  readonly maxQueuedCommands: number;
  /** Cluster: least time between two topology refreshes triggered by failures. @default 250 */
  readonly topologyRefreshMs: number;
  /**
   * Keys expire on a grid of this many milliseconds past the session's deadline,
   * so the user index's deadline needs moving at most once per step.
   * @default min(1 h, max(1 ms, idle timeout / 100))
   */
  readonly expiryStepMs?: number;
  /**
   * How writes keep a session's history: a sorted set, whose oldest view is found without reading
   * the others, or a hash, the form releases before D93 read (`TESSERA_REDIS_HISTORY_FORM`;
   * docs/redis.md, "Upgrading"). Both forms are read. @default "zset"
   */
  readonly historyForm: RedisHistoryForm;
  /**
   * How writes keep the ids of a user's sessions: a hash, which Redis 7.0 keeps compact, or a set,
   * the form releases before D94 read (`TESSERA_REDIS_USER_SESSIONS_FORM`; docs/redis.md,
   * "Upgrading"). Both forms are read. @default "hash"
   */
  readonly userSessionsForm: RedisUserSessionsForm;
}

export const DEFAULT_REDIS_TUNING: RedisTuning = Object.freeze({
  keyPrefix: 'ts:',
  connectTimeoutMs: 1000,
  commandTimeoutMs: 1500,
  startupTimeoutMs: 5000,
  maxQueuedCommands: 10_000,
  topologyRefreshMs: 250,
  historyForm: 'zset',
  userSessionsForm: 'hash',
});

export type RedisStoreOptions = StoreSettings &
  ({ readonly engine: 'redis'; readonly url: string } | { readonly engine: 'redis-cluster'; readonly nodes: readonly string[] }) & {
    readonly tuning?: Partial<RedisTuning>;
    /** TLS files; with them every connection speaks TLS (a `redis://` URL too). */
    readonly tls?: TlsFiles;
    /** A cluster's credentials, for every node (one server's are in its URL). */
    readonly credentials?: RedisCredentials;
  };

export function expiryStep(settings: StoreSettings, tuning: RedisTuning): number {
  if (tuning.expiryStepMs !== undefined) return Math.max(1, Math.floor(tuning.expiryStepMs));
  return Math.min(3_600_000, Math.max(1, Math.floor(settings.idleTimeoutMs / 100)));
}

/** Checks the options once, naming the bad one. */
export function validateRedisOptions(options: RedisStoreOptions): void {
  if (options.engine === 'redis' && !/^rediss?:\/\//.test(options.url)) {
    throw new TypeError(`Redis url "${options.url}" must start with redis:// or rediss://`);
  }
  if (options.engine === 'redis-cluster' && options.nodes.length === 0) {
    throw new TypeError('Redis Cluster needs at least one seed node ("host:port")');
  }
  if (!(options.idleTimeoutMs > 0)) throw new TypeError(`idleTimeoutMs must be positive, got ${options.idleTimeoutMs}`);
  const form = options.tuning?.historyForm;
  if (form !== undefined && form !== 'zset' && form !== 'hash') throw new TypeError(`historyForm must be "zset" or "hash", got ${JSON.stringify(form)}`);
  const userSessions = options.tuning?.userSessionsForm;
  if (userSessions !== undefined && userSessions !== 'hash' && userSessions !== 'set') {
    throw new TypeError(`userSessionsForm must be "hash" or "set", got ${JSON.stringify(userSessions)}`);
  }
}

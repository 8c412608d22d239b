/**
 * Configuration from the environment, validated once at start-up. A bad value
 * stops the process with a message that names the variable.
 */
import { DEFAULT_LIMITS, type Limits } from '../domain/limits.js';
import type { ApiKeySpec } from '../tokens/api-keys.js';
import { hostname } from 'node:os';
import { parseDuration } from './duration.js';

export type StoreConfig =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'redis'; readonly url: string }
  | { readonly engine: 'redis-cluster'; readonly nodes: readonly string[] };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** @default 8080 */
  readonly port: number;
  /** @default "0.0.0.0", or "127.0.0.1" when no API key is configured */
  readonly host: string;
  readonly store: StoreConfig;
  /** Caller API keys; empty means "generate one at start-up and listen on loopback only". */
  readonly apiKeys: readonly ApiKeySpec[];
  /** @default 30 days */
  readonly idleTimeoutMs: number;
  /** @default 365 days */
  readonly absoluteTimeoutMs: number;
  /** How long a rotated-out token keeps working for in-flight requests. @default 30 s */
  readonly rotationGraceMs: number;
  /** Reads refresh the idle deadline only once this much of it has passed. @default min(idle / 20, 1 h) */
  readonly slideAfterMs: number;
  /** How often the embedded engine sweeps expired sessions. @default 60 s */
  readonly sweepIntervalMs: number;
  /** This region's name, also the writer name in CRDT state. @default "local" */
  readonly region: string;
  readonly natsUrl: string | null;
  /** @default "info" */
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** The in-process L1 cache of parts; on by default for the Redis engines, pointless for the embedded one. */
  readonly l1: { readonly enabled: boolean; readonly maxBytes: number; readonly maxEntries: number; readonly ttlMs: number };
  /** Requests per second per API key; 0 means unlimited. @default 0 */
  readonly rateLimitPerKey: number;
  /** Requests in flight on this node before new ones get 429. @default 4096 */
  readonly maxInFlight: number;
  /** Sent as `Tessera-Node` on every answer, to see where a load balancer sent a request. @default hostname:pid */
  readonly nodeId: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DAY = 86_400_000;

export function loadConfig(env: Env = process.env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const duration = (name: string, fallback: number, min = 1_000): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === null) throw new ConfigError(name, `"${text}" is not a duration; use e.g. 30d, 12h, 15m, 10s or 500ms`);
    if (ms < min) throw new ConfigError(name, `must be at least ${min} ms, got ${ms} ms`);
    return ms;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(name, `"${text}" must be an integer from ${min} to ${max}`);
    }
    return value;
  };

  const apiKeys = parseApiKeys(read('TESSERA_API_KEYS'));
  const idleTimeoutMs = duration('TESSERA_IDLE_TIMEOUT', 30 * DAY);
  const absoluteTimeoutMs = duration('TESSERA_ABSOLUTE_TIMEOUT', 365 * DAY);
  const logLevel = (read('TESSERA_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('TESSERA_LOG_LEVEL', `"${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);
  const region = read('TESSERA_REGION') ?? 'local';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(region)) throw new ConfigError('TESSERA_REGION', `"${region}" must be 1-32 characters of [A-Za-z0-9_-]`);
  const host = read('TESSERA_HOST') ?? (apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1');
  const store = parseStore(read);
  const l1Text = read('TESSERA_L1') ?? (store.engine === 'sqlite' ? 'off' : 'on');
  if (l1Text !== 'on' && l1Text !== 'off') throw new ConfigError('TESSERA_L1', `"${l1Text}" must be on or off`);

  return {
    port: integer('TESSERA_PORT', 8080, 0, 65_535),
    host,
    store,
    apiKeys,
    idleTimeoutMs,
    absoluteTimeoutMs,
    rotationGraceMs: duration('TESSERA_ROTATION_GRACE', 30_000, 0),
    slideAfterMs: duration('TESSERA_SLIDE_AFTER', Math.min(Math.floor(idleTimeoutMs / 20), 3_600_000), 0),
    sweepIntervalMs: duration('TESSERA_SWEEP_INTERVAL', 60_000, 100),
    region,
    natsUrl: read('TESSERA_NATS_URL') ?? null,
    logLevel,
    limits: {
      ...DEFAULT_LIMITS,
      bodyBytes: integer('TESSERA_MAX_BODY_BYTES', DEFAULT_LIMITS.bodyBytes, 1_024, 16 * 1024 * 1024),
      cartLines: integer('TESSERA_MAX_CART_LINES', DEFAULT_LIMITS.cartLines, 1, 10_000),
      maxQuantity: integer('TESSERA_MAX_QUANTITY', DEFAULT_LIMITS.maxQuantity, 1, 1_000_000),
      prefsBytes: integer('TESSERA_MAX_PREFS_BYTES', DEFAULT_LIMITS.prefsBytes, 64, 1024 * 1024),
      historyItems: integer('TESSERA_HISTORY_ITEMS', DEFAULT_LIMITS.historyItems, 1, 10_000),
    },
    l1: {
      enabled: l1Text === 'on',
      maxBytes: integer('TESSERA_L1_MAX_BYTES', 64 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
      maxEntries: integer('TESSERA_L1_MAX_ENTRIES', 100_000, 1, 100_000_000),
      ttlMs: duration('TESSERA_L1_TTL', 300_000, 100),
    },
    rateLimitPerKey: integer('TESSERA_RATE_LIMIT', 0, 0, 10_000_000),
    maxInFlight: integer('TESSERA_MAX_IN_FLIGHT', 4096, 1, 1_000_000),
    nodeId: read('TESSERA_NODE_ID') ?? `${hostname()}:${process.pid}`,
  };
}

function parseStore(read: (name: string) => string | undefined): StoreConfig {
  const engine = read('TESSERA_STORE') ?? 'sqlite';
  switch (engine) {
    case 'sqlite':
      return { engine, path: read('TESSERA_SQLITE_PATH') ?? './data/tessera.db' };
    case 'redis': {
      const url = read('TESSERA_REDIS_URL');
      if (url === undefined) throw new ConfigError('TESSERA_REDIS_URL', 'is required when TESSERA_STORE=redis (e.g. redis://127.0.0.1:6379)');
      if (!/^rediss?:\/\//.test(url)) throw new ConfigError('TESSERA_REDIS_URL', 'must start with redis:// or rediss://');
      return { engine, url };
    }
    case 'redis-cluster': {
      const nodes = (read('TESSERA_REDIS_NODES') ?? '').split(',').map((n) => n.trim()).filter(Boolean);
      if (nodes.length === 0) {
        throw new ConfigError('TESSERA_REDIS_NODES', 'is required when TESSERA_STORE=redis-cluster (comma-separated host:port seeds)');
      }
      const bad = nodes.find((n) => !/^[^\s:]+:\d{1,5}$/.test(n.replace(/^rediss?:\/\//, '')));
      if (bad !== undefined) throw new ConfigError('TESSERA_REDIS_NODES', `"${bad}" is not host:port`);
      return { engine, nodes };
    }
    default:
      throw new ConfigError('TESSERA_STORE', `"${engine}" must be sqlite, redis or redis-cluster`);
  }
}

function parseApiKeys(text: string | undefined): ApiKeySpec[] {
  if (text === undefined) return [];
  return text.split(',').map((entry, index) => {
    // Never echo the entry: it holds a secret.
    const parts = entry.trim().split(':');
    const [name, secret, scope] = parts;
    if (parts.length < 2 || parts.length > 3 || !name || !secret) {
      throw new ConfigError('TESSERA_API_KEYS', `entry ${index + 1} must be name:secret or name:secret:admin`);
    }
    if (scope !== undefined && scope !== 'admin') {
      throw new ConfigError('TESSERA_API_KEYS', `entry ${index + 1} ("${name}") has scope "${scope}"; the only scope suffix is "admin"`);
    }
    return { name, secret, admin: scope === 'admin' };
  });
}

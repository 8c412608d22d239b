/**
 * Configuration from the environment, validated once at start-up. A bad value
 * stops the process with a message that names the variable.
 */
import { DEFAULT_LIMITS, type Limits } from '../domain/limits.js';
import type { ApiKeySpec } from '../tokens/api-keys.js';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { StoreUnavailableError } from '../store/session-store.js';
import { parseDuration } from './duration.js';
import { DEFAULT_L1_OPTIONS } from '../cache/cached-store.js';

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
  /**
   * 1 s to 10 years. May exceed the absolute timeout: the idle deadline is always capped
   * at the absolute one, so the session then simply lives until that cap. @default 30 days
   */
  readonly idleTimeoutMs: number;
  /** 1 s to 10 years. @default 365 days */
  readonly absoluteTimeoutMs: number;
  /** How long a rotated-out token keeps working for in-flight requests; 0 to 1 h. @default 30 s */
  readonly rotationGraceMs: number;
  /**
   * Reads refresh the idle deadline only once this much of it has passed; 0 to 7 days,
   * and shorter than the idle timeout. @default min(idle / 20, 1 h)
   */
  readonly slideAfterMs: number;
  /** How often the embedded engine sweeps expired sessions; 100 ms to 1 day. @default 60 s */
  readonly sweepIntervalMs: number;
  /** This region's name, also the writer name in CRDT state. @default "local" */
  readonly region: string;
  readonly natsUrl: string | null;
  /** @default "info" */
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** The in-process L1 cache of parts; on by default for the Redis engines, pointless for the embedded one. */
  readonly l1: { readonly enabled: boolean; readonly maxBytes: number; readonly maxEntries: number; /** 100 ms to 1 day. */ readonly ttlMs: number };
  /** Requests per second per API key; 0 means unlimited. @default 0 */
  readonly rateLimitPerKey: number;
  /** Requests in flight on this node before new ones get 429. @default 4096 */
  readonly maxInFlight: number;
  /** Sent as `Tessera-Node` on every answer, to see where a load balancer sent a request. @default hostname:pid */
  readonly nodeId: string;
  /**
   * On SIGTERM, how long the node keeps serving — `/readyz` failing and every
   * answer closing its connection — before it stops accepting connections, so
   * that load balancers and keep-alive clients move away first; 0 to 5 min. @default 2 s
   */
  readonly shutdownDelayMs: number;
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

/**
 * A start-up failure that is not a malformed value but an environment that does
 * not fit it (a port in use, a database path under a regular file, an
 * unreachable Redis): names the variables to check and keeps the cause.
 */
export class StartupError extends Error {
  constructor(
    readonly variables: readonly string[],
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${variables.join(', ')}: ${message}`, options);
    this.name = 'StartupError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Bounds of every duration variable, [min, max] in ms. The maxima keep every
 * deadline (now + duration) far inside what a Date can hold (8.64e15 ms) and
 * every timer interval under Node's 2^31-1 ms limit (beyond it a timer fires
 * after 1 ms, so a sweep interval of 30 days would sweep continuously).
 */
export const DURATION_BOUNDS = {
  TESSERA_IDLE_TIMEOUT: [SECOND, 3_650 * DAY],
  TESSERA_ABSOLUTE_TIMEOUT: [SECOND, 3_650 * DAY],
  TESSERA_ROTATION_GRACE: [0, HOUR],
  TESSERA_SLIDE_AFTER: [0, 7 * DAY],
  TESSERA_SWEEP_INTERVAL: [100, DAY],
  TESSERA_L1_TTL: [100, DAY],
  TESSERA_SHUTDOWN_DELAY: [0, 5 * MINUTE],
} as const satisfies Record<string, readonly [number, number]>;

type DurationVariable = keyof typeof DURATION_BOUNDS;

/**
 * On SIGTERM, how long the drain (after the shutdown delay) may take before the
 * process gives up and exits 1. Orchestrators' grace periods must cover the
 * shutdown delay plus this (deploy/kubernetes/deployment.yaml).
 */
export const DRAIN_DEADLINE_MS = 10_000;

/** `3650d`, `1h`, `100ms`: the largest unit that expresses the value exactly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function loadConfig(env: Env = process.env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const duration = (name: DurationVariable, fallback: number): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const [min, max] = DURATION_BOUNDS[name];
    const range = `a duration from ${formatDuration(min)} to ${formatDuration(max)}`;
    const ms = parseDuration(text);
    if (ms === null) throw new ConfigError(name, `"${text}" is not a duration; use e.g. 30d, 12h, 15m, 10s or 500ms (${range})`);
    if (ms < min) throw new ConfigError(name, `"${text}" is too short; use ${range}`);
    if (ms > max) throw new ConfigError(name, `"${text}" is too long; use ${range}`);
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
  const hostText = read('TESSERA_HOST');
  const host = hostText === undefined ? (apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1') : parseHost(hostText);
  // Idle above absolute is allowed: every engine caps the idle deadline at the absolute one.
  const slideAfterMs = duration('TESSERA_SLIDE_AFTER', Math.min(Math.floor(idleTimeoutMs / 20), HOUR));
  if (slideAfterMs >= idleTimeoutMs) {
    throw new ConfigError(
      'TESSERA_SLIDE_AFTER',
      `${formatDuration(slideAfterMs)} must be shorter than TESSERA_IDLE_TIMEOUT (${formatDuration(idleTimeoutMs)}), or reads would never extend a session`,
    );
  }
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
    rotationGraceMs: duration('TESSERA_ROTATION_GRACE', 30 * SECOND),
    slideAfterMs,
    sweepIntervalMs: duration('TESSERA_SWEEP_INTERVAL', MINUTE),
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
      maxBytes: integer('TESSERA_L1_MAX_BYTES', DEFAULT_L1_OPTIONS.maxBytes, 1024, 64 * 1024 * 1024 * 1024),
      maxEntries: integer('TESSERA_L1_MAX_ENTRIES', 100_000, 1, 100_000_000),
      ttlMs: duration('TESSERA_L1_TTL', 5 * MINUTE),
    },
    rateLimitPerKey: integer('TESSERA_RATE_LIMIT', 0, 0, 10_000_000),
    maxInFlight: integer('TESSERA_MAX_IN_FLIGHT', 4096, 1, 1_000_000),
    nodeId: read('TESSERA_NODE_ID') ?? `${hostname()}:${process.pid}`,
    shutdownDelayMs: duration('TESSERA_SHUTDOWN_DELAY', 2 * SECOND),
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

/**
 * An IPv4 or IPv6 literal (without brackets) or a host name: dot-separated labels of
 * letters, digits, hyphens (and underscores, which resolvers accept in container
 * names), none starting or ending with a hyphen, at most 63 characters each and
 * 253 in all, the last one not all digits (that is a mistyped IPv4 address).
 */
function parseHost(text: string): string {
  if (isIP(text) !== 0) return text;
  const bracketed = /^\[(.*)\]$/.exec(text);
  if (bracketed !== null && isIP(bracketed[1]!) === 6) {
    throw new ConfigError('TESSERA_HOST', `"${text}": write the IPv6 address without brackets (${bracketed[1]})`);
  }
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const labels = name.split('.');
  const valid =
    name.length > 0 &&
    name.length <= 253 &&
    labels.every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label)) &&
    !/^\d+$/.test(labels[labels.length - 1]!);
  if (!valid) {
    throw new ConfigError(
      'TESSERA_HOST',
      `"${text}" is neither an IP address nor a valid host name; use e.g. 0.0.0.0 (all IPv4 interfaces), :: (all interfaces), 127.0.0.1 or a name such as tessera.internal`,
    );
  }
  return text;
}

function parseApiKeys(text: string | undefined): ApiKeySpec[] {
  if (text === undefined) return [];
  const byName = new Map<string, number>();
  const bySecret = new Map<string, number>();
  return text.split(',').map((entry, index) => {
    // Never echo the entry or a secret: only names and entry numbers.
    const parts = entry.trim().split(':');
    const [name, secret, scope] = parts;
    const number = index + 1;
    if (parts.length < 2 || parts.length > 3 || !name || !secret) {
      throw new ConfigError('TESSERA_API_KEYS', `entry ${number} must be name:secret or name:secret:admin`);
    }
    if (scope !== undefined && scope !== 'admin') {
      throw new ConfigError('TESSERA_API_KEYS', `entry ${number} ("${name}") has scope "${scope}"; the only scope suffix is "admin"`);
    }
    const sameName = byName.get(name);
    if (sameName !== undefined) {
      throw new ConfigError(
        'TESSERA_API_KEYS',
        `entry ${number} has the same name "${name}" as entry ${sameName}; key names must be unique (they label metrics and logs)`,
      );
    }
    const sameSecret = bySecret.get(secret);
    if (sameSecret !== undefined) {
      throw new ConfigError(
        'TESSERA_API_KEYS',
        `entry ${number} ("${name}") has the same secret as entry ${sameSecret}; every key needs its own secret`,
      );
    }
    byName.set(name, number);
    bySecret.set(secret, number);
    return { name, secret, admin: scope === 'admin' };
  });
}

type ErrorDetails = Error & { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown; hostname?: unknown };

const details = (error: unknown): ErrorDetails => (error instanceof Error ? error : new Error(String(error)));

/** The innermost cause's message, for errors that wrap the one worth showing. */
function rootMessage(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

const SQLITE_HINTS: Record<string, string> = {
  EEXIST: 'a parent of the path is a file, not a directory',
  ENOTDIR: 'a parent of the path is a file, not a directory',
  EISDIR: 'the path is a directory; name a database file inside it',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  SQLITE_CANTOPEN: 'SQLite cannot open a database file there',
  SQLITE_NOTADB: 'the file exists but is not an SQLite database',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_READONLY: 'the database file is read-only',
  SQLITE_PERM: 'permission denied',
};

/**
 * What a failure to open the configured store means, naming the variable that
 * points at it; null when the error does not come from opening the store.
 * Never shows credentials of a Redis URL.
 */
export function explainStoreError(store: StoreConfig, error: unknown): StartupError | null {
  const e = details(error);
  if (store.engine === 'sqlite') {
    // Opening SQLite fails with a system error (mkdir of the directory) or an SqliteError, both with a code.
    if (typeof e.code !== 'string' || !(/^E[A-Z]+$/.test(e.code) || e.code.startsWith('SQLITE_'))) return null;
    const hint = SQLITE_HINTS[e.code] ?? SQLITE_HINTS[e.code.replace(/_[A-Z]+$/, '')];
    return new StartupError(
      ['TESSERA_SQLITE_PATH'],
      `cannot open the embedded database "${store.path}"${hint === undefined ? '' : `: ${hint}`} (${e.message})`,
      { cause: error },
    );
  }
  if (!(error instanceof StoreUnavailableError)) return null;
  if (store.engine === 'redis') {
    let where = 'the configured address';
    const secrets: string[] = [];
    try {
      const url = new URL(store.url);
      where = `${url.hostname}:${url.port || '6379'}`;
      if (url.password !== '') secrets.push(url.password, decodeURIComponent(url.password));
      if (url.username !== '') secrets.push(url.username, decodeURIComponent(url.username));
    } catch {
      // Shown without the address then.
    }
    const cause = secrets.reduce((text, secret) => text.split(secret).join('***'), rootMessage(error));
    return new StartupError(['TESSERA_REDIS_URL'], `cannot connect to Redis at ${where} (${cause}); check the URL and that Redis is up`, {
      cause: error,
    });
  }
  return new StartupError(
    ['TESSERA_REDIS_NODES'],
    `cannot connect to the Redis Cluster through the seeds ${store.nodes.join(', ')} (${rootMessage(error)}); check the seeds and that the cluster is up`,
    { cause: error },
  );
}

/** What a failure to listen means, naming TESSERA_HOST and TESSERA_PORT. */
export function explainListenError(target: { readonly host: string; readonly port: number }, error: unknown): StartupError {
  const e = details(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const host = typeof e.hostname === 'string' ? e.hostname : typeof e.address === 'string' ? e.address : target.host;
  const port = typeof e.port === 'number' ? e.port : target.port;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let variables = ['TESSERA_HOST', 'TESSERA_PORT'];
  let reason: string;
  switch (code) {
    case 'EADDRINUSE':
      reason = `port ${port} is already in use; choose another TESSERA_PORT or stop the process that holds it`;
      break;
    case 'EACCES':
    case 'EPERM':
      reason = `permission denied (ports below 1024 need privileges); choose a TESSERA_PORT of 1024 or more`;
      break;
    case 'EADDRNOTAVAIL':
      variables = ['TESSERA_HOST'];
      reason = `${host} is not an address of this machine; set TESSERA_HOST to one of its addresses, or 0.0.0.0 / :: for all`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      variables = ['TESSERA_HOST'];
      reason = `the host name "${host}" does not resolve; set TESSERA_HOST to an address of this machine or a name that resolves to one`;
      break;
    default:
      reason = 'check TESSERA_HOST and TESSERA_PORT';
  }
  return new StartupError(variables, `cannot listen on ${where}: ${reason} (${e.message})`, { cause: error });
}

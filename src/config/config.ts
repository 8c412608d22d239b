/**
 * Configuration from the environment, validated once at start-up. A bad value
 * stops the process with a message that names the variable.
 */
import { DEFAULT_LIMITS, type Limits } from '../domain/limits.js';
import { DEFAULT_SCOPES, SCOPES, parseScopes, type ApiKeySpec } from '../tokens/api-keys.js';
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { RedisCredentials, RedisHistoryForm, RedisUserSessionsForm, StoreConfig, TlsFiles } from '../store/session-store.js';
import { readCreds, readNkeySeed } from '../replication/credentials.js';
import { DEFAULT_REPLICATION, type NatsAuth, type ReplicationSettings } from '../replication/settings.js';
import { parseDuration } from './duration.js';
import { DEFAULT_L1_OPTIONS } from '../cache/cached-store.js';
import type { DeviceLimitAction } from '../domain/operations.js';
import { webhookKey } from '../events/webhook-signature.js';
import { parseTracing, type TracingSettings } from '../tracing/settings.js';

export type { StoreConfig };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** @default 8080 */
  readonly port: number;
  /** @default "0.0.0.0", or "127.0.0.1" when no API key is configured */
  readonly host: string;
  readonly store: StoreConfig;
  /** Caller API keys and their scopes; empty means "generate one at start-up and listen on loopback only". */
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
   * A transient sign-in ("remember me" unticked): its device's own idle timeout and
   * lifetime, each capped by the session's. @default 12 h idle, 24 h in all
   */
  readonly transient: { readonly idleTimeoutMs: number; readonly absoluteTimeoutMs: number };
  /** What a sign-in does when the user's session already has `limits.devices` devices, unless it says. @default 'refuse' */
  readonly deviceLimitAction: DeviceLimitAction;
  /** Bits of a client address kept (the rest zeroed before it is stored); 0 keeps none. @default 24 (IPv4), 48 (IPv6) */
  readonly addressPrefixes: { readonly v4: number; readonly v6: number };
  /** Session events delivered as signed webhooks; null when TESSERA_WEBHOOK_URLS is not set. */
  readonly webhooks: WebhookConfig | null;
  /**
   * Reads refresh the idle deadline only once this much of it has passed; 0 to 7 days,
   * and shorter than the idle timeout. @default min(idle / 20, 1 h)
   */
  readonly slideAfterMs: number;
  /** How often the embedded engine sweeps expired sessions; 100 ms to 1 day. @default 60 s */
  readonly sweepIntervalMs: number;
  /**
   * How long a change may take to arrive from another region: ended and expired
   * sessions are kept this long past their (absolute) deadline, so that a late
   * change never brings one back. 0 to 30 days. @default 24 h
   */
  readonly horizonMs: number;
  /** This region's name, also the writer name in CRDT state. @default "local" */
  readonly region: string;
  /**
   * The global mode (several regions over NATS JetStream), or null: without
   * `TESSERA_NATS_URL` Tessera runs single-region. The node id is filled in
   * from `nodeId`.
   */
  readonly replication: Omit<ReplicationSettings, 'nodeId'> | null;
  /** @default "info" */
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** The in-process L1 cache of parts; on by default for the Redis engines, pointless for the embedded one. */
  readonly l1: { readonly enabled: boolean; readonly maxBytes: number; readonly maxEntries: number; /** 100 ms to 1 day. */ readonly ttlMs: number };
  /** Requests per second per API key; 0 means unlimited. @default 0 */
  readonly rateLimitPerKey: number;
  /** Requests in flight on this node before new ones get 429. @default 4096 */
  readonly maxInFlight: number;
  /** Failed API-key authentications per minute per client address (IPv6: per /64) before 429; 0 means unlimited. @default 60 */
  readonly authFailuresPerMinute: number;
  /** Sent as `Tessera-Node` on every answer, to see where a load balancer sent a request. @default hostname:pid */
  readonly nodeId: string;
  /**
   * On SIGTERM, how long the node keeps serving — `/readyz` failing and every
   * answer closing its connection — before it stops accepting connections, so
   * that load balancers and keep-alive clients move away first; 0 to 5 min. @default 2 s
   */
  readonly shutdownDelayMs: number;
  /** How long the API listener waits for callers; see `HttpTimeouts`. */
  readonly timeouts: HttpTimeouts;
  /**
   * The management listener: `/metrics`, `/openapi.json`, `/docs` (and `/healthz`, `/readyz`
   * again). Loopback by default, whatever `host` is: expose it deliberately. @default 127.0.0.1:8081
   */
  readonly admin: { readonly host: string; readonly port: number };
  /** OpenTelemetry tracing from the standard `OTEL_*` variables; null (off) without an OTLP endpoint. */
  readonly tracing: TracingSettings | null;
}

export interface WebhookConfig {
  readonly urls: readonly string[];
  /** `whsec_…` signing secrets; every delivery carries a signature per secret (rotation without a gap). */
  readonly secrets: readonly string[];
  /** One attempt's time limit. @default 10 s */
  readonly timeoutMs: number;
  /** The first retry's wait; it doubles, up to 5 min. @default 1 s */
  readonly backoffMs: number;
  /** An event not accepted this long after its first attempt is given up. @default 3 days */
  readonly retryForMs: number;
}

/**
 * Time limits of the API listener's connections, so that a caller that sends
 * slowly (or not at all) cannot hold a connection or a request open for as
 * long as it likes.
 */
export interface HttpTimeouts {
  /** The request head (request line and headers) must arrive within this; 100 ms to 10 min. @default 10 s */
  readonly headersMs: number;
  /** The whole request, head and body, must arrive within this; at least `headersMs`, up to 1 h. @default 30 s */
  readonly requestMs: number;
  /** A connection with a request open and no bytes moving either way is closed after this; 1 s to 1 h. @default 60 s */
  readonly connectionMs: number;
  /**
   * An idle keep-alive connection is closed after this; 1 s to 1 h. Keep it above the idle timeout
   * of the load balancer in front (often 60 s), so the balancer closes first. @default 72 s
   */
  readonly keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, connectionMs: 60_000, keepAliveMs: 72_000 };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    /** What is wrong with it, without the variable's name. */
    readonly detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
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
  TESSERA_TRANSIENT_IDLE_TIMEOUT: [SECOND, 3_650 * DAY],
  TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT: [SECOND, 3_650 * DAY],
  TESSERA_SLIDE_AFTER: [0, 7 * DAY],
  TESSERA_SWEEP_INTERVAL: [100, DAY],
  TESSERA_L1_TTL: [100, DAY],
  TESSERA_SHUTDOWN_DELAY: [0, 5 * MINUTE],
  TESSERA_REPLICATION_HORIZON: [0, 30 * DAY],
  TESSERA_CONSISTENCY_WAIT: [0, 10 * SECOND],
  TESSERA_REPAIR_INTERVAL: [SECOND, DAY],
  TESSERA_REPLICA_CHECK_INTERVAL: [SECOND, HOUR],
  TESSERA_HEADERS_TIMEOUT: [100, 10 * MINUTE],
  TESSERA_REQUEST_TIMEOUT: [100, HOUR],
  TESSERA_CONNECTION_TIMEOUT: [SECOND, HOUR],
  TESSERA_KEEP_ALIVE_TIMEOUT: [SECOND, HOUR],
  TESSERA_WEBHOOK_TIMEOUT: [100, MINUTE],
  TESSERA_WEBHOOK_BACKOFF: [10, 5 * MINUTE],
  TESSERA_WEBHOOK_RETRY_FOR: [SECOND, 30 * DAY],
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
  const host = hostText === undefined ? (apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1') : parseHost(hostText, 'TESSERA_HOST');
  const adminHostText = read('TESSERA_ADMIN_HOST');
  const adminHost = adminHostText === undefined ? '127.0.0.1' : parseHost(adminHostText, 'TESSERA_ADMIN_HOST');
  // Idle above absolute is allowed: every engine caps the idle deadline at the absolute one.
  const slideAfterMs = duration('TESSERA_SLIDE_AFTER', Math.min(Math.floor(idleTimeoutMs / 20), HOUR));
  if (slideAfterMs >= idleTimeoutMs) {
    throw new ConfigError(
      'TESSERA_SLIDE_AFTER',
      `${formatDuration(slideAfterMs)} must be shorter than TESSERA_IDLE_TIMEOUT (${formatDuration(idleTimeoutMs)}), or reads would never extend a session`,
    );
  }
  const headersMs = duration('TESSERA_HEADERS_TIMEOUT', DEFAULT_HTTP_TIMEOUTS.headersMs);
  const requestMs = duration('TESSERA_REQUEST_TIMEOUT', Math.max(DEFAULT_HTTP_TIMEOUTS.requestMs, headersMs));
  if (headersMs > requestMs) {
    throw new ConfigError(
      'TESSERA_HEADERS_TIMEOUT',
      `${formatDuration(headersMs)} must not exceed TESSERA_REQUEST_TIMEOUT (${formatDuration(requestMs)}): the head is part of the request`,
    );
  }
  const store = parseStore(read);
  const l1Text = read('TESSERA_L1') ?? (store.engine === 'sqlite' ? 'off' : 'on');
  if (l1Text !== 'on' && l1Text !== 'off') throw new ConfigError('TESSERA_L1', `"${l1Text}" must be on or off`);

  const deviceLimitAction = (read('TESSERA_DEVICE_LIMIT_ACTION') ?? 'refuse') as DeviceLimitAction;
  if (deviceLimitAction !== 'refuse' && deviceLimitAction !== 'end-least-recent') {
    throw new ConfigError('TESSERA_DEVICE_LIMIT_ACTION', `"${deviceLimitAction}" must be refuse or end-least-recent`);
  }

  const webhooks = parseWebhooks(read, duration);

  const port = integer('TESSERA_PORT', 8080, 0, 65_535);
  const adminPort = integer('TESSERA_ADMIN_PORT', 8081, 0, 65_535);
  if (adminPort === port && adminPort !== 0) {
    throw new ConfigError('TESSERA_ADMIN_PORT', `${adminPort} is also TESSERA_PORT; the management listener needs a port of its own`);
  }

  return {
    port,
    host,
    store,
    apiKeys,
    idleTimeoutMs,
    absoluteTimeoutMs,
    rotationGraceMs: duration('TESSERA_ROTATION_GRACE', 30 * SECOND),
    transient: {
      idleTimeoutMs: duration('TESSERA_TRANSIENT_IDLE_TIMEOUT', 12 * HOUR),
      absoluteTimeoutMs: duration('TESSERA_TRANSIENT_ABSOLUTE_TIMEOUT', DAY),
    },
    deviceLimitAction,
    addressPrefixes: { v4: integer('TESSERA_IPV4_PREFIX', 24, 0, 32), v6: integer('TESSERA_IPV6_PREFIX', 48, 0, 128) },
    webhooks,
    slideAfterMs,
    sweepIntervalMs: duration('TESSERA_SWEEP_INTERVAL', MINUTE),
    horizonMs: duration('TESSERA_REPLICATION_HORIZON', DAY),
    region,
    replication: parseReplication(read, region, duration, integer),
    logLevel,
    limits: {
      ...DEFAULT_LIMITS,
      bodyBytes: integer('TESSERA_MAX_BODY_BYTES', DEFAULT_LIMITS.bodyBytes, 1_024, 16 * 1024 * 1024),
      cartLines: integer('TESSERA_MAX_CART_LINES', DEFAULT_LIMITS.cartLines, 1, 10_000),
      maxQuantity: integer('TESSERA_MAX_QUANTITY', DEFAULT_LIMITS.maxQuantity, 1, 1_000_000),
      prefsBytes: integer('TESSERA_MAX_PREFS_BYTES', DEFAULT_LIMITS.prefsBytes, 64, 1024 * 1024),
      historyItems: integer('TESSERA_HISTORY_ITEMS', DEFAULT_LIMITS.historyItems, 1, 10_000),
      devices: integer('TESSERA_MAX_DEVICES', DEFAULT_LIMITS.devices, 1, 1_000),
    },
    l1: {
      enabled: l1Text === 'on',
      maxBytes: integer('TESSERA_L1_MAX_BYTES', DEFAULT_L1_OPTIONS.maxBytes, 1024, 64 * 1024 * 1024 * 1024),
      maxEntries: integer('TESSERA_L1_MAX_ENTRIES', 100_000, 1, 100_000_000),
      ttlMs: duration('TESSERA_L1_TTL', 5 * MINUTE),
    },
    rateLimitPerKey: integer('TESSERA_RATE_LIMIT', 0, 0, 10_000_000),
    maxInFlight: integer('TESSERA_MAX_IN_FLIGHT', 4096, 1, 1_000_000),
    authFailuresPerMinute: integer('TESSERA_AUTH_FAILURE_LIMIT', 60, 0, 1_000_000),
    nodeId: read('TESSERA_NODE_ID') ?? `${hostname()}:${process.pid}`,
    shutdownDelayMs: duration('TESSERA_SHUTDOWN_DELAY', 2 * SECOND),
    admin: { host: adminHost, port: adminPort },
    tracing: parseTracing(read, (variable, message) => new ConfigError(variable, message)),
    timeouts: {
      headersMs,
      requestMs,
      connectionMs: duration('TESSERA_CONNECTION_TIMEOUT', DEFAULT_HTTP_TIMEOUTS.connectionMs),
      keepAliveMs: duration('TESSERA_KEEP_ALIVE_TIMEOUT', DEFAULT_HTTP_TIMEOUTS.keepAliveMs),
    },
  };
}

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const GLOBAL_PARTS = ['cart', 'prefs', 'history'] as const;

/** A comma-separated list, trimmed, empty entries dropped. */
function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

function parseReplication(
  read: (name: string) => string | undefined,
  region: string,
  duration: (name: DurationVariable, fallback: number) => number,
  integer: (name: string, fallback: number, min: number, max: number) => number,
): Omit<ReplicationSettings, 'nodeId'> | null {
  const natsUrls = list(read('TESSERA_NATS_URL'));
  if (natsUrls.length === 0) return null;
  for (const url of natsUrls) {
    if (!/^(nats|tls):\/\/[^/\s]+$|^[^/:\s]+:\d+$/.test(url)) {
      throw new ConfigError('TESSERA_NATS_URL', `"${shownUrl(url)}" is not a NATS server address; use host:port or nats://host:port, comma-separated, this region's servers first`);
    }
  }
  const regions = list(read('TESSERA_REGIONS'));
  if (regions.length < 2) throw new ConfigError('TESSERA_REGIONS', 'must name every region, comma-separated (at least two), when TESSERA_NATS_URL is set');
  const bad = regions.find((r) => !NAME.test(r));
  if (bad !== undefined) throw new ConfigError('TESSERA_REGIONS', `"${bad}" must be 1-32 characters of [A-Za-z0-9_-]`);
  if (new Set(regions).size < regions.length) throw new ConfigError('TESSERA_REGIONS', 'names a region twice');
  if (!regions.includes(region)) throw new ConfigError('TESSERA_REGION', `"${region}" is not one of TESSERA_REGIONS (${regions.join(', ')})`);
  const globalParts = list(read('TESSERA_GLOBAL_PARTS'));
  const unknown = globalParts.find((p) => !(GLOBAL_PARTS as readonly string[]).includes(p));
  if (unknown !== undefined) throw new ConfigError('TESSERA_GLOBAL_PARTS', `"${unknown}" is not one of ${GLOBAL_PARTS.join(', ')} (devices and the session itself are always global)`);
  const natsTls = parseTlsFiles(read, 'TESSERA_NATS', 'NATS servers');
  const monitorUrls = list(read('TESSERA_NATS_MONITOR_URLS'));
  for (const url of monitorUrls) {
    // The monitoring port takes no credentials (and fetch refuses a URL that holds them).
    if (!/^https?:\/\/[^/@\s]+$/.test(url)) throw new ConfigError('TESSERA_NATS_MONITOR_URLS', `"${shownUrl(url)}" must be http://host:port of a NATS server's monitoring port`);
  }
  const { urls, auth: urlAuth } = natsCredentials(natsUrls.map((url) => (url.includes('://') ? url : `nats://${url}`)));
  const credsFile = parseIdentityFile(read, 'TESSERA_NATS_CREDS', '.creds file of the NATS user', readCreds);
  const nkeyFile = parseIdentityFile(read, 'TESSERA_NATS_NKEY', 'NKey seed file of the NATS user', readNkeySeed);
  const given = [
    ...(urlAuth === null ? [] : ['credentials in TESSERA_NATS_URL']),
    ...(credsFile === null ? [] : ['TESSERA_NATS_CREDS']),
    ...(nkeyFile === null ? [] : ['TESSERA_NATS_NKEY']),
  ];
  if (given.length > 1) {
    throw new ConfigError(credsFile !== null ? 'TESSERA_NATS_CREDS' : 'TESSERA_NATS_NKEY', `${given.join(' and ')} each say who the node is; give one of them`);
  }
  const auth: NatsAuth | null = credsFile !== null ? { credsFile } : nkeyFile !== null ? { nkeyFile } : urlAuth;
  return {
    ...DEFAULT_REPLICATION,
    region,
    regions,
    natsUrls: urls,
    ...(auth === null ? {} : { natsAuth: auth }),
    ...(natsTls === null ? {} : { natsTls }),
    natsMonitorUrls: monitorUrls,
    globalParts: globalParts as (typeof GLOBAL_PARTS)[number][],
    shards: integer('TESSERA_STREAM_SHARDS', DEFAULT_REPLICATION.shards, 1, 64),
    regionalReplicas: integer('TESSERA_NATS_REGIONAL_REPLICAS', DEFAULT_REPLICATION.regionalReplicas, 1, 5),
    retentionMs: Math.max(duration('TESSERA_REPLICATION_HORIZON', DEFAULT_REPLICATION.retentionMs), 60_000),
    consistencyWaitMs: duration('TESSERA_CONSISTENCY_WAIT', DEFAULT_REPLICATION.consistencyWaitMs),
    repairIntervalMs: duration('TESSERA_REPAIR_INTERVAL', DEFAULT_REPLICATION.repairIntervalMs),
    replicaCheckIntervalMs: duration('TESSERA_REPLICA_CHECK_INTERVAL', DEFAULT_REPLICATION.replicaCheckIntervalMs),
  };
}

/**
 * A server address as given, fit for a configuration error: a user and password in it
 * (`nats://user:password@host:4222`) become `***`. Once loaded, URLs hold none (`credentialsIn`).
 */
function shownUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/\s]*@/i, '$1***@');
}

/** A user and password (`user` may be empty: the default user), or a token alone. */
type Userinfo = { readonly user: string; readonly password: string } | { readonly token: string };

/**
 * The credentials in server URLs (`scheme://user:password@host:port`, or `scheme://token@host:port`),
 * percent-decoded and taken out of them. The clients take them as options, not from the URLs, and
 * one connection has one identity: every URL that names credentials names the same ones.
 */
function credentialsIn(urls: readonly string[], variable: string): { urls: string[]; userinfo: Userinfo | null } {
  let userinfo: Userinfo | null = null;
  let given: string | null = null;
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new ConfigError(variable, 'has a user or password that is not valid percent-encoding');
    }
  };
  const plain = urls.map((url) => {
    const at = /^([a-z]+:\/\/)([^@/\s]*)@(.*)$/i.exec(url);
    if (at === null) return url;
    const [, scheme, info, rest] = at as unknown as [string, string, string, string];
    if (given !== null && info !== given) throw new ConfigError(variable, 'names different credentials for different servers; one connection has one identity');
    if (info === '') throw new ConfigError(variable, 'has an "@" with no user or token before it');
    given = info;
    const colon = info.indexOf(':');
    userinfo = colon === -1 ? { token: decode(info) } : { user: decode(info.slice(0, colon)), password: decode(info.slice(colon + 1)) };
    return `${scheme}${rest}`;
  });
  return { urls: plain, userinfo };
}

/** NATS takes a user and password, or a token. */
function natsCredentials(urls: readonly string[]): { urls: string[]; auth: NatsAuth | null } {
  const { urls: plain, userinfo } = credentialsIn(urls, 'TESSERA_NATS_URL');
  const auth: NatsAuth | null = userinfo === null ? null : 'token' in userinfo ? { token: userinfo.token } : { user: userinfo.user, pass: userinfo.password };
  return { urls: plain, auth };
}

/** A cluster's seeds: every node is signed in with the credentials one of them names (a password, and a user for ACLs). */
function clusterSeeds(seeds: readonly string[]): { nodes: string[]; credentials: RedisCredentials | null } {
  const { urls: nodes, userinfo } = credentialsIn(seeds, 'TESSERA_REDIS_NODES');
  if (userinfo !== null && 'token' in userinfo) {
    throw new ConfigError('TESSERA_REDIS_NODES', 'has credentials without a ":" before the password (redis://:password@host:port, or redis://user:password@host:port)');
  }
  const credentials = userinfo === null ? null : { ...(userinfo.user === '' ? {} : { username: userinfo.user }), password: userinfo.password };
  return { nodes, credentials };
}

/** The path `variable` names, which must be a readable file (`wanted`: what to give instead); undefined when unset. */
function readableFile(read: (name: string) => string | undefined, variable: string, wanted: string): string | undefined {
  const path = read(variable);
  if (path === undefined) return undefined;
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch {
    throw new ConfigError(variable, `"${path}" is not a readable file; give ${wanted}`);
  }
  return path;
}

/**
 * `TESSERA_NATS_CREDS` or `TESSERA_NATS_NKEY`: a readable file, `what`, checked now by `check`
 * (its contents are never shown).
 */
function parseIdentityFile(read: (name: string) => string | undefined, variable: string, what: string, check: (path: string) => unknown): string | null {
  const path = readableFile(read, variable, `the ${what} this node connects as`);
  if (path === undefined) return null;
  try {
    check(path);
  } catch (error) {
    throw new ConfigError(variable, `"${path}" ${(error as Error).message}`);
  }
  return path;
}

/**
 * TLS files of `<prefix>_CA`, `<prefix>_CERT` and `<prefix>_KEY` (`servers`: whose certificates the
 * CA signed): each must be a readable file; a certificate goes with its key.
 */
function parseTlsFiles(read: (name: string) => string | undefined, prefix: 'TESSERA_NATS' | 'TESSERA_REDIS', servers: string): TlsFiles | null {
  const file = (variable: string, what: string): string | undefined => readableFile(read, variable, `the PEM file of ${what}`);
  const caFile = file(`${prefix}_CA`, `the CA that signed the ${servers}’ certificates`);
  const certFile = file(`${prefix}_CERT`, 'this node’s client certificate');
  const keyFile = file(`${prefix}_KEY`, 'the client certificate’s private key');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(certFile === undefined ? `${prefix}_CERT` : `${prefix}_KEY`, `${prefix}_CERT and ${prefix}_KEY go together: a client certificate and its private key`);
  }
  if (caFile === undefined && certFile === undefined) return null;
  return { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined ? {} : { certFile, keyFile: keyFile! }) };
}

function parseWebhooks(read: (name: string) => string | undefined, duration: (name: DurationVariable, fallback: number) => number): WebhookConfig | null {
  const given = read('TESSERA_WEBHOOK_URLS');
  if (given === undefined) return null;
  const urls = list(given);
  urls.forEach((url, i) => {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    // Never echo the URL: it may carry a token.
    if (parsed === null || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      throw new ConfigError('TESSERA_WEBHOOK_URLS', `entry ${i + 1} is not an http:// or https:// URL`);
    }
  });
  const secrets = list(read('TESSERA_WEBHOOK_SECRET'));
  if (secrets.length === 0) {
    throw new ConfigError('TESSERA_WEBHOOK_SECRET', 'is required with TESSERA_WEBHOOK_URLS: a whsec_ secret (whsec_ + base64 of 24-64 random bytes), several comma-separated while rotating');
  }
  secrets.forEach((secret, i) => {
    if (webhookKey(secret) === null) {
      throw new ConfigError('TESSERA_WEBHOOK_SECRET', `entry ${i + 1} is not whsec_ followed by the base64 of 24 to 64 bytes (e.g. whsec_$(openssl rand -base64 32))`);
    }
  });
  return {
    urls,
    secrets,
    timeoutMs: duration('TESSERA_WEBHOOK_TIMEOUT', 10 * SECOND),
    backoffMs: duration('TESSERA_WEBHOOK_BACKOFF', SECOND),
    retryForMs: duration('TESSERA_WEBHOOK_RETRY_FOR', 3 * DAY),
  };
}

/**
 * `TESSERA_REDIS_HISTORY_FORM` and `TESSERA_REDIS_USER_SESSIONS_FORM`: the forms writes keep where
 * nodes of an earlier release still run (D93, D94; docs/redis.md, "Upgrading"), when not the defaults.
 */
function storedForms(read: (name: string) => string | undefined): { historyForm?: RedisHistoryForm; userSessionsForm?: RedisUserSessionsForm } {
  const earlier = '(while nodes of an earlier release still run: docs/redis.md, "Upgrading")';
  const history = read('TESSERA_REDIS_HISTORY_FORM');
  if (history !== undefined && history !== 'zset' && history !== 'hash') {
    throw new ConfigError('TESSERA_REDIS_HISTORY_FORM', `"${history}" must be zset (the default) or hash ${earlier}`);
  }
  const userSessions = read('TESSERA_REDIS_USER_SESSIONS_FORM');
  if (userSessions !== undefined && userSessions !== 'hash' && userSessions !== 'set') {
    throw new ConfigError('TESSERA_REDIS_USER_SESSIONS_FORM', `"${userSessions}" must be hash (the default) or set ${earlier}`);
  }
  return {
    ...(history === 'hash' ? { historyForm: history } : {}),
    ...(userSessions === 'set' ? { userSessionsForm: userSessions } : {}),
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
      const tls = parseTlsFiles(read, 'TESSERA_REDIS', 'Redis servers');
      if (tls !== null && !url.startsWith('rediss://')) throw new ConfigError('TESSERA_REDIS_URL', 'must start with rediss:// (TLS) when TESSERA_REDIS_CA, TESSERA_REDIS_CERT or TESSERA_REDIS_KEY is set');
      return { engine, url, ...(tls === null ? {} : { tls }), ...storedForms(read) };
    }
    case 'redis-cluster': {
      const seeds = (read('TESSERA_REDIS_NODES') ?? '').split(',').map((n) => n.trim()).filter(Boolean);
      if (seeds.length === 0) {
        throw new ConfigError('TESSERA_REDIS_NODES', 'is required when TESSERA_STORE=redis-cluster (comma-separated host:port seeds)');
      }
      const { nodes, credentials } = clusterSeeds(seeds);
      const bad = nodes.find((n) => !/^[^\s:@]+:\d{1,5}$/.test(n.replace(/^rediss?:\/\//, '')));
      if (bad !== undefined) throw new ConfigError('TESSERA_REDIS_NODES', `"${bad}" is not host:port`);
      // TLS for every node where a seed says rediss:// or TLS files are given.
      const tls = parseTlsFiles(read, 'TESSERA_REDIS', 'Redis servers') ?? (nodes.some((n) => n.startsWith('rediss://')) ? {} : null);
      return { engine, nodes, ...(tls === null ? {} : { tls }), ...(credentials === null ? {} : { credentials }), ...storedForms(read) };
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
function parseHost(text: string, variable: 'TESSERA_HOST' | 'TESSERA_ADMIN_HOST'): string {
  if (isIP(text) !== 0) return text;
  const bracketed = /^\[(.*)\]$/.exec(text);
  if (bracketed !== null && isIP(bracketed[1]!) === 6) {
    throw new ConfigError(variable, `"${text}": write the IPv6 address without brackets (${bracketed[1]})`);
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
      variable,
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
    const [name, secret, scopeList] = parts;
    const number = index + 1;
    if (parts.length < 2 || parts.length > 3 || !name || !secret) {
      throw new ConfigError('TESSERA_API_KEYS', `entry ${number} must be name:secret or name:secret:scopes (e.g. app:<secret>:sign-in+token)`);
    }
    const parsed = scopeList === undefined ? { scopes: [...DEFAULT_SCOPES] } : parseScopes(scopeList);
    if ('unknown' in parsed) {
      throw new ConfigError(
        'TESSERA_API_KEYS',
        `entry ${number} ("${name}") has scope "${parsed.unknown}"; use ${SCOPES.join(', ')} or the aliases sessions (sign-in+token) and admin (all three), joined by +`,
      );
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
    return { name, secret, scopes: parsed.scopes };
  });
}

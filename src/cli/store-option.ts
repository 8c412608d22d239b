/**
 * Which store a command works on: `--store SPEC`, else the one the TESSERA_*
 * variables configure for the service. The store is opened with the
 * service's settings (limits, horizon, region) but no feed consumer: what a
 * command writes is not appended to the change feed (replication's repair
 * carries imported sessions to other regions).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { openStore } from '../store/open-store.js';
import type { SessionStore, StoreConfig } from '../store/session-store.js';
import { UsageError } from './usage.js';

/** The variables that name the service's store: a `--store` spec stands in for all of them. */
const STORE_VARIABLES = ['TESSERA_STORE', 'TESSERA_SQLITE_PATH', 'TESSERA_REDIS_URL', 'TESSERA_REDIS_NODES'] as const;

/** Redis's TLS files: they apply to a `--store` that says TLS (`rediss://`), as to the configured store. */
const REDIS_TLS_VARIABLES = ['TESSERA_REDIS_CA', 'TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY'] as const;

/**
 * The `TESSERA_*` variables a `--store` spec stands for: `sqlite:PATH`, `redis://…` or
 * `rediss://…`, `redis-cluster://SEEDS` with the seeds as `TESSERA_REDIS_NODES` takes them
 * (`host:port`, or `rediss://[user:password@]host:port` for TLS and credentials). The service's
 * own parsing reads them, with the rest of the environment: a `rediss://` store takes
 * `TESSERA_REDIS_CA`, `…_CERT` and `…_KEY`, and a Redis store `TESSERA_REDIS_HISTORY_FORM` and
 * `TESSERA_REDIS_USER_SESSIONS_FORM`.
 * A spec without TLS leaves the TLS files out, so that they can name the configured store's
 * while `--store` names a plain one.
 */
function storeVariables(spec: string, command: string): Record<string, string | undefined> {
  const withoutTls = Object.fromEntries(REDIS_TLS_VARIABLES.map((name) => [name, undefined]));
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new UsageError('--store sqlite: needs a path, e.g. sqlite:./data/tessera.db', command);
    return { TESSERA_STORE: 'sqlite', TESSERA_SQLITE_PATH: path };
  }
  if (/^rediss?:\/\/[^/\s]+/.test(spec)) return { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: spec, ...(spec.startsWith('rediss://') ? {} : withoutTls) };
  if (spec.startsWith('redis-cluster://')) {
    const seeds = spec.slice('redis-cluster://'.length);
    if (seeds.split(',').every((seed) => seed.trim() === '')) throw new UsageError(`--store ${spec}: list the cluster's nodes as host:port, comma-separated`, command);
    return { TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: seeds, ...(seeds.includes('rediss://') ? {} : withoutTls) };
  }
  throw new UsageError(`--store "${spec}" is not sqlite:PATH, redis://HOST:PORT or redis-cluster://HOST:PORT,…`, command);
}

/**
 * The service's configuration, with the store `--store` names in place of the configured one: the
 * spec stands for the variables that name a store, and the service's parsing reads them with the
 * rest of the environment (TLS files, credentials, the history form). What it refuses in the spec
 * is a usage error of `--store`, not of a variable the caller never set.
 */
export function commandConfig(env: NodeJS.ProcessEnv, storeSpec: string | boolean | undefined, command: string): { config: Config; store: StoreConfig } {
  if (typeof storeSpec !== 'string') {
    const config = loadConfig(env);
    return { config, store: config.store };
  }
  const variables = storeVariables(storeSpec, command);
  const configured = Object.fromEntries(Object.entries(env).filter(([name]) => !(STORE_VARIABLES as readonly string[]).includes(name)));
  try {
    const config = loadConfig({ ...configured, ...variables });
    return { config, store: config.store };
  } catch (error) {
    if (error instanceof ConfigError && error.variable in variables) {
      throw new UsageError(`--store ${describeSpec(storeSpec)}: ${error.detail}`, command);
    }
    throw error;
  }
}

/** A spec for messages: no password of a URL or a seed. */
function describeSpec(spec: string): string {
  return spec.replace(/\/\/[^@/,]*@/g, '//…@');
}

/** Where a store is, for messages (never a URL's password). */
export function describeStore(store: StoreConfig): string {
  switch (store.engine) {
    case 'sqlite':
      return `sqlite:${resolve(store.path)}`;
    case 'redis': {
      const url = new URL(store.url);
      return `${url.protocol}//${url.host}`;
    }
    case 'redis-cluster':
      return `redis-cluster://${store.nodes.join(',')}`;
  }
}

/** An SQLite path that does not exist is refused (opening it would create an empty store). */
export async function openCommandStore(config: Config, store: StoreConfig, { mayCreate }: { mayCreate: boolean }): Promise<SessionStore> {
  if (store.engine === 'sqlite' && !mayCreate && store.path !== ':memory:' && !existsSync(store.path)) {
    throw new Error(`no SQLite store at ${store.path}; name it with --store sqlite:PATH or TESSERA_SQLITE_PATH`);
  }
  return openStore(store, {
    idleTimeoutMs: config.idleTimeoutMs,
    slideAfterMs: config.slideAfterMs,
    limits: config.limits,
    origin: config.region,
    horizonMs: config.horizonMs,
    feedConsumers: [],
  });
}

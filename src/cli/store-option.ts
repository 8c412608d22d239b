/**
 * Which store a command works on: `--store SPEC`, else the one the TESSERA_*
 * variables configure for the service. The store is opened with the
 * service's settings (limits, horizon, region) but no feed consumer: what a
 * command writes is not appended to the change feed (replication's repair
 * carries imported sessions to other regions).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { openStore } from '../store/open-store.js';
import type { SessionStore, StoreConfig } from '../store/session-store.js';
import { UsageError } from './usage.js';

/** `sqlite:PATH`, `redis://…`, `rediss://…`, `redis-cluster://HOST:PORT,HOST:PORT`. */
export function parseStoreSpec(spec: string, command: string): StoreConfig {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new UsageError('--store sqlite: needs a path, e.g. sqlite:./data/tessera.db', command);
    return { engine: 'sqlite', path };
  }
  if (/^rediss?:\/\/[^/\s]+/.test(spec)) return { engine: 'redis', url: spec };
  if (spec.startsWith('redis-cluster://')) {
    const nodes = spec.slice('redis-cluster://'.length).split(',').map((n) => n.trim()).filter(Boolean);
    const bad = nodes.find((n) => !/^[^\s:/]+:\d{1,5}$/.test(n));
    if (nodes.length === 0 || bad !== undefined) throw new UsageError(`--store ${spec}: list the cluster's nodes as host:port, comma-separated`, command);
    return { engine: 'redis-cluster', nodes };
  }
  throw new UsageError(`--store "${spec}" is not sqlite:PATH, redis://HOST:PORT or redis-cluster://HOST:PORT,…`, command);
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

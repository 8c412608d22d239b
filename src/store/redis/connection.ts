/**
 * The connection to Redis or Redis Cluster, with the failure behaviour the
 * service needs: a dead or stuck Redis gives a quick `StoreUnavailableError`
 * (the HTTP layer answers 503), never a hang, and the connection heals by itself.
 *
 * - No offline queue: while a connection is down, commands fail at once
 *   instead of piling up; the bounded command queue caps what a stalled
 *   server can accumulate.
 * - Every call has a deadline (`commandTimeoutMs`), retries included.
 * - Retries happen only when Redis cannot have run the command (offline
 *   connection, TRYAGAIN during a slot migration, CLUSTERDOWN while a replica
 *   takes over…) or when the command is a read.
 * - Cluster: MOVED and ASK are followed by node-redis; a connection failure
 *   also triggers a topology refresh, which is how a promoted replica is found
 *   after its master died (a dead node sends no MOVED).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  createCluster,
  ErrorReply,
  SocketClosedUnexpectedlyError,
} from 'redis';
import { StoreUnavailableError } from '../session-store.js';
import type { RedisTuning } from './options.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

export type RedisEngine = 'redis' | 'redis-cluster';

export type ConnectionTarget = { readonly engine: 'redis'; readonly url: string } | { readonly engine: 'redis-cluster'; readonly nodes: readonly string[] };

export interface CallOptions {
  /** A read (or a write whose repetition changes nothing): may be retried after a lost connection. */
  readonly idempotent: boolean;
}

type Reply = unknown;

/** The commands the store uses, the same on a client and on a cluster. */
interface Commands {
  script(name: ScriptName, keys: readonly string[], args: readonly string[]): Promise<Reply>;
  get(key: string): Promise<string | null>;
  setIfAbsent(key: string, value: string, deadline: number): Promise<boolean>;
  set(key: string, value: string, deadline: number): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  ping(): Promise<void>;
  refreshTopology(): Promise<void>;
  close(): Promise<void>;
}

/** Server errors that mean the command was not run and may be sent again. */
const NOT_RUN = /^(TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING|READONLY|BUSY|NOSCRIPT)\b/;

function notRun(error: unknown): boolean {
  if (error instanceof ClientOfflineError) return true;
  return error instanceof ErrorReply && NOT_RUN.test(error.message);
}

function connectionLost(error: unknown): boolean {
  if (error instanceof SocketClosedUnexpectedlyError || error instanceof ConnectionTimeoutError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTCONN)$/.test(code);
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms; raise commandTimeoutMs if the server is merely slow`);
    this.name = 'DeadlineError';
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), Math.max(1, ms));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export class RedisConnection {
  readonly #commands: Commands;
  readonly #engine: RedisEngine;
  readonly #timeoutMs: number;

  private constructor(engine: RedisEngine, commands: Commands, timeoutMs: number) {
    this.#engine = engine;
    this.#commands = commands;
    this.#timeoutMs = timeoutMs;
  }

  static async open(target: ConnectionTarget, tuning: RedisTuning): Promise<RedisConnection> {
    try {
      const commands = target.engine === 'redis' ? await openClient(target.url, tuning) : await openCluster(target.nodes, tuning);
      return new RedisConnection(target.engine, commands, tuning.commandTimeoutMs);
    } catch (error) {
      throw new StoreUnavailableError(target.engine, { cause: error });
    }
  }

  script(name: ScriptName, keys: readonly string[], args: readonly string[], options: CallOptions): Promise<Reply> {
    return this.#call(() => this.#commands.script(name, keys, args), options);
  }

  get(key: string): Promise<string | null> {
    return this.#call(() => this.#commands.get(key), { idempotent: true });
  }

  /** SET NX with an absolute deadline: true when this call created the key. */
  setIfAbsent(key: string, value: string, deadline: number): Promise<boolean> {
    // A repeated SET NX of the same value answers "not set"; callers re-read the key then.
    return this.#call(() => this.#commands.setIfAbsent(key, value, deadline), { idempotent: true });
  }

  /** SET with an absolute deadline. */
  set(key: string, value: string, deadline: number): Promise<void> {
    return this.#call(() => this.#commands.set(key, value, deadline), { idempotent: true });
  }

  del(keys: readonly string[]): Promise<void> {
    return this.#call(() => this.#commands.del(keys), { idempotent: true });
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#commands.ping(), { idempotent: true });
  }

  async close(): Promise<void> {
    await this.#commands.close();
  }

  async #call<T>(work: () => Promise<T>, { idempotent }: CallOptions): Promise<T> {
    const deadline = Date.now() + this.#timeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await withDeadline(work(), deadline - Date.now());
      } catch (error) {
        const lost = connectionLost(error) || error instanceof ClientOfflineError;
        if (lost || (error instanceof ErrorReply && /^(CLUSTERDOWN|READONLY|MASTERDOWN)/.test(error.message))) {
          void this.#commands.refreshTopology();
        }
        const delay = Math.min(20 * 2 ** attempt, 250);
        const retry = notRun(error) || (idempotent && lost);
        if (!retry || Date.now() + delay >= deadline) throw new StoreUnavailableError(this.#engine, { cause: error });
        await sleep(delay);
      }
    }
  }
}

function reconnectStrategy(retries: number): number {
  // Back off to one attempt per second, with jitter so that API nodes do not reconnect in step.
  return Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 50);
}

function clientDefaults(tuning: RedisTuning) {
  return {
    socket: { connectTimeout: tuning.connectTimeoutMs, reconnectStrategy, keepAlive: true, keepAliveInitialDelay: 5000 },
    disableOfflineQueue: true,
    commandsQueueMaxLength: tuning.maxQueuedCommands,
  };
}

async function openClient(url: string, tuning: RedisTuning): Promise<Commands> {
  const client = createClient({ url, ...clientDefaults(tuning), scripts: SCRIPTS });
  // Errors surface through the commands that meet them; the client reconnects by itself.
  client.on('error', () => undefined);
  await connectWithin(tuning.startupTimeoutMs, () => client.connect(), () => client.destroy());
  return {
    script: (name, keys, args) => client[name](keys, args),
    get: (key) => client.get(key),
    setIfAbsent: async (key, value, deadline) => (await client.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } })) === 'OK',
    set: async (key, value, deadline) => void (await client.set(key, value, { expiration: { type: 'PXAT', value: deadline } })),
    del: async (keys) => void (await client.del([...keys])),
    ping: async () => void (await client.ping()),
    refreshTopology: async () => undefined,
    close: () => closeGracefully(() => client.close(), () => client.destroy()),
  };
}

async function openCluster(nodes: readonly string[], tuning: RedisTuning): Promise<Commands> {
  const cluster = createCluster({
    rootNodes: nodes.map((node) => ({ url: node.includes('://') ? node : `redis://${node}` })),
    defaults: clientDefaults(tuning),
    useReplicas: false,
    maxCommandRedirections: 16,
    scripts: SCRIPTS,
  });
  cluster.on('error', () => undefined);
  cluster.on('node-error', () => undefined);
  await connectWithin(tuning.startupTimeoutMs, () => cluster.connect(), () => cluster.destroy());

  let refreshing: Promise<void> | null = null;
  let lastRefresh = 0;
  const refreshTopology = (): Promise<void> => {
    if (refreshing !== null || Date.now() - lastRefresh < tuning.topologyRefreshMs) return refreshing ?? Promise.resolve();
    lastRefresh = Date.now();
    const nodesWithClients = [...cluster.masters, ...cluster.replicas].filter((n) => n.client !== undefined);
    const ready = nodesWithClients.filter((n) => n.client!.isReady);
    const start = (ready.length > 0 ? ready : nodesWithClients)[Math.floor(Math.random() * Math.max(1, ready.length))];
    if (start?.client === undefined) return Promise.resolve();
    // node-redis refreshes the slot map on MOVED only; a dead master sends none, so ask a live node.
    // `_slots.rediscover` is the library's own refresh (it falls back to the seed nodes).
    refreshing = cluster._slots
      .rediscover(start.client)
      .catch(() => undefined)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  return {
    script: (name, keys, args) => cluster[name](keys, args),
    get: (key) => cluster.get(key),
    setIfAbsent: async (key, value, deadline) => (await cluster.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } })) === 'OK',
    set: async (key, value, deadline) => void (await cluster.set(key, value, { expiration: { type: 'PXAT', value: deadline } })),
    del: async (keys) => void (await cluster.del([...keys])),
    // Ready while any master answers: a master failing over makes only its slots unavailable.
    ping: async () => {
      await Promise.any(cluster.masters.map(async (master) => (await cluster.nodeClient(master)).ping()));
    },
    refreshTopology,
    close: () => closeGracefully(() => cluster.close(), () => cluster.destroy()),
  };
}

/** The first connection, which the client would otherwise retry for ever. */
async function connectWithin(ms: number, connect: () => Promise<unknown>, destroy: () => void): Promise<void> {
  try {
    await withDeadline(connect(), ms);
  } catch (error) {
    destroy();
    throw error;
  }
}

async function closeGracefully(close: () => Promise<unknown>, destroy: () => void): Promise<void> {
  try {
    await withDeadline(close(), 1000);
  } catch {
    destroy();
  }
}

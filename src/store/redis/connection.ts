/**
 * The connection to Redis or Redis Cluster, with the failure behaviour the
 * service needs: a dead or stuck Redis gives a quick `StoreUnavailableError`
 * (the HTTP layer answers 503), never a hang, and the connection heals by itself.
 *
 * - No offline queue: while a connection is down, commands fail at once
 *   instead of piling up; a bounded queue caps what a stalled server holds.
 * - Every call has a deadline (`commandTimeoutMs`), retries included.
 * - Retries happen only when Redis cannot have run the command (offline
 *   connection, TRYAGAIN during a slot migration, CLUSTERDOWN while a replica
 *   takes over…) or when the call is idempotent.
 * - Failures that hint at a topology change refresh the cluster's slot map
 *   (`cluster.ts`); on one server, a connection that went silent is replaced.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  ErrorReply,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
} from 'redis';
import { StoreUnavailableError, type RedisCredentials, type TlsFiles } from '../session-store.js';
import { DeadlineError, Deadlines, openClient, type Commands } from './clients.js';
import { openCluster } from './cluster.js';
import type { RedisTuning } from './options.js';
import type { ScriptName } from './scripts.js';
import { keySlot } from './slots.js';

export type RedisEngine = 'redis' | 'redis-cluster';

export type ConnectionTarget = (
  | { readonly engine: 'redis'; readonly url: string }
  | { readonly engine: 'redis-cluster'; readonly nodes: readonly string[]; readonly credentials?: RedisCredentials }
) & {
  readonly tls?: TlsFiles;
  /** Told the TLS alert when a server refuses this node's client certificate (`StoreSettings.onCertificateRefused`). */
  readonly onRefused?: (alert: string) => void;
};

/** Told the time of each call: the script's name or the command, and seconds. */
export type CallTimer = (call: string, seconds: number) => void;

export interface CallOptions {
  /** Running the call twice has the effect of running it once: it may be retried after a lost connection. */
  readonly idempotent: boolean;
}

/** Server errors that mean the command was not run and may be sent again. */
const NOT_RUN = /^(TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING|READONLY|BUSY)\b/;
/** Server errors that mean the client's slot map is out of date. */
const MOVED_ON = /^(CLUSTERDOWN|MASTERDOWN|READONLY)\b|^Cannot find node/;

function notRun(error: unknown): boolean {
  // Offline: never sent. Closed: a cluster client replaced after a topology change, never sent either.
  if (error instanceof ClientOfflineError || error instanceof ClientClosedError) return true;
  return error instanceof ErrorReply && NOT_RUN.test(error.message);
}

function connectionLost(error: unknown): boolean {
  if (error instanceof SocketClosedUnexpectedlyError || error instanceof ConnectionTimeoutError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTCONN)$/.test(code);
}

function topologyHint(error: unknown): boolean {
  return (
    connectionLost(error) ||
    error instanceof ClientOfflineError ||
    error instanceof ClientClosedError ||
    error instanceof DeadlineError ||
    error instanceof RootNodesUnavailableError ||
    (error instanceof Error && MOVED_ON.test(error.message))
  );
}

export class RedisConnection {
  readonly #commands: Commands;
  readonly #engine: RedisEngine;
  readonly #timeoutMs: number;
  readonly #deadlines = new Deadlines();
  readonly #tracer: Tracer | null;
  readonly #timed: CallTimer | null;

  private constructor(engine: RedisEngine, commands: Commands, timeoutMs: number, tracer: Tracer | null, timed: CallTimer | null) {
    this.#engine = engine;
    this.#commands = commands;
    this.#timeoutMs = timeoutMs;
    this.#tracer = tracer;
    this.#timed = timed;
  }

  /**
   * With a `tracer`, each call made within a traced store call gets a span of its own (docs/architecture.md, Tracing);
   * `timed` is told how long each call took, retries included.
   */
  static async open(target: ConnectionTarget, tuning: RedisTuning, tracer: Tracer | null = null, timed: CallTimer | null = null): Promise<RedisConnection> {
    try {
      const commands =
        target.engine === 'redis'
          ? await openClient(target.url, tuning, target.tls, target.onRefused)
          : await openCluster(target.nodes, tuning, target.tls, target.credentials, target.onRefused);
      return new RedisConnection(target.engine, commands, tuning.commandTimeoutMs, tracer, timed);
    } catch (error) {
      throw new StoreUnavailableError(target.engine, { cause: error });
    }
  }

  script(name: ScriptName, keys: readonly string[], args: readonly string[], options: CallOptions): Promise<unknown> {
    // Sent as FCALL (FUNCTION LOAD once where the library is missing): the script's name tells what it did.
    return this.#traced('FCALL', name, keys[0], () => this.#call(name, () => this.#commands.script(name, keys, args), options));
  }

  get(key: string): Promise<string | null> {
    return this.#traced('GET', undefined, key, () => this.#call('GET', () => this.#commands.get(key), { idempotent: true }));
  }

  /** SET NX with an absolute deadline: true when this call created the key. */
  setIfAbsent(key: string, value: string, deadline: number): Promise<boolean> {
    // Not retried after a lost reply: the retry would answer "exists" for a key this call created.
    return this.#traced('SET', undefined, key, () => this.#call('SET', () => this.#commands.setIfAbsent(key, value, deadline), { idempotent: false }));
  }

  /** SET with an absolute deadline. */
  set(key: string, value: string, deadline: number): Promise<void> {
    return this.#traced('SET', undefined, key, () => this.#call('SET', () => this.#commands.set(key, value, deadline), { idempotent: true }));
  }

  del(keys: readonly string[]): Promise<void> {
    return this.#traced('DEL', undefined, keys[0], () => this.#call('DEL', () => this.#commands.del(keys), { idempotent: true }));
  }

  /** Any other command on the node that owns `key`; retried after a lost connection only when idempotent. */
  command(key: string, args: readonly string[], options: CallOptions): Promise<unknown> {
    const command = args[0]?.toUpperCase() ?? 'COMMAND';
    return this.#traced(command, undefined, key, () => this.#call(command, () => this.#commands.command(key, args), options));
  }

  scanKeys(cursor: string, match: string, count: number): Promise<{ readonly keys: readonly string[]; readonly cursor: string }> {
    return this.#traced('SCAN', undefined, undefined, () => this.#call('SCAN', () => this.#commands.scanKeys(cursor, match, count), { idempotent: true }));
  }

  /** Subscribes to shard channels; no deadline (thousands of channels take a while), and errors stay node-redis's. */
  listen(channels: readonly string[], listener: (channel: string) => void): Promise<void> {
    return this.#commands.listen(channels, listener);
  }

  async ping(): Promise<void> {
    await this.#call('PING', () => this.#commands.ping(), { idempotent: true });
  }

  async close(): Promise<void> {
    await this.#commands.close();
  }

  /**
   * `work` in a span named by the command (and script), with the slot of `key`
   * on a cluster — only within a traced store call of a sampled request, so
   * background work makes no traces of its own. Keys and arguments are not recorded: they name sessions and users.
   */
  #traced<T>(command: string, script: ScriptName | undefined, key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (this.#tracer === null) return work();
    const parent = context.active();
    if (trace.getSpan(parent)?.isRecording() !== true) return work();
    const span = this.#tracer.startSpan(
      script === undefined ? command : `${command} ${script}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          // The names of tracing/attributes.ts (the store cannot import from above it).
          'db.system.name': 'redis',
          'db.operation.name': command,
          'tessera.store.engine': this.#engine,
          ...(script === undefined ? {} : { 'db.stored_procedure.name': script }),
          ...(this.#engine === 'redis-cluster' && key !== undefined ? { 'tessera.redis.slot': keySlot(key) } : {}),
        },
      },
      parent,
    );
    return work().then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        span.setAttribute('error.type', error instanceof Error ? error.name : 'unknown');
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      },
    );
  }

  /** `work`, retried while it may be; `name` (the script or command) labels its time, retries included. */
  async #call<T>(name: string, work: () => Promise<T>, { idempotent }: CallOptions): Promise<T> {
    const began = this.#timed === null ? 0 : performance.now();
    const deadline = Date.now() + this.#timeoutMs;
    try {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await this.#deadlines.within(work(), deadline - Date.now());
        } catch (error) {
          if (topologyHint(error)) this.#commands.recover();
          const delay = Math.min(20 * 2 ** attempt, 250);
          const retry = notRun(error) || (idempotent && connectionLost(error));
          if (!retry || Date.now() + delay >= deadline) throw new StoreUnavailableError(this.#engine, { cause: error });
          await sleep(delay);
        }
      }
    } finally {
      this.#timed?.(name, (performance.now() - began) / 1000);
    }
  }
}

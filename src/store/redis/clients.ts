/**
 * node-redis clients as the store uses them: the few commands it needs, the
 * same on one server and on a cluster, and the client settings that keep a
 * dead server from queueing commands.
 */
import { readFileSync } from 'node:fs';
import { createClient, ErrorReply } from 'redis';
import type { TlsFiles } from '../session-store.js';
import { REFUSED_CREDENTIALS, refusedClientCertificate, untrustedCertificate } from '../../refusals.js';
import type { RedisTuning } from './options.js';
import { callFunction, tesseraFunctions, type ScriptName } from './scripts.js';

/** The commands the store uses. */
export interface Commands {
  script(name: ScriptName, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  /** SET NX PXAT: true when this call created the key. */
  setIfAbsent(key: string, value: string, deadline: number): Promise<boolean>;
  /** SET PXAT. */
  set(key: string, value: string, deadline: number): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  /** Any other command, sent to the node that owns `key`. */
  command(key: string, args: readonly string[]): Promise<unknown>;
  /**
   * One SCAN step over every key matching `match` — on a cluster, master after
   * master (the cursor says which). Start with '0'; '0' comes back at the end.
   */
  scanKeys(cursor: string, match: string, count: number): Promise<{ readonly keys: readonly string[]; readonly cursor: string }>;
  /**
   * Listens on shard channels (a cluster's feed bells); resolves once
   * subscribed. A no-op on one server, which has no bells to ring.
   */
  listen(channels: readonly string[], listener: (channel: string) => void): Promise<void>;
  ping(): Promise<void>;
  /**
   * A call failed in a way that hints the connections are out of date: the
   * cluster re-reads its slot map; one server replaces a connection that went silent.
   */
  recover(): void;
  close(): Promise<void>;
}

/** The deadline was reached before Redis answered; the command may still run. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms; raise commandTimeoutMs if the server is merely slow`);
    this.name = 'DeadlineError';
  }
}

/** How late a `Deadlines` deadline may fire. */
const DEADLINE_RESOLUTION_MS = 25;

/**
 * Deadlines of calls in flight, checked by one timer that runs while any call
 * is pending, instead of a timer, a race and two more promises per call: on
 * the hot path a deadline costs a set insertion. Fires up to
 * `DEADLINE_RESOLUTION_MS` late.
 */
export class Deadlines {
  readonly #pending = new Set<{ readonly at: number; readonly ms: number; readonly reject: (error: Error) => void }>();
  #timer: NodeJS.Timeout | null = null;

  /** `work`, or a `DeadlineError` once `ms` have passed without it settling. */
  within<T>(work: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { at: Date.now() + ms, ms: Math.round(ms), reject };
      this.#pending.add(entry);
      if (this.#timer === null) {
        // Not unref'd: like a timer per call, a pending call keeps the process alive until its deadline.
        this.#timer = setInterval(() => this.#expire(), DEADLINE_RESOLUTION_MS);
      }
      work.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.#pending.delete(entry);
          reject(error);
        },
      );
    });
  }

  #expire(): void {
    const now = Date.now();
    for (const entry of this.#pending) {
      if (now < entry.at) continue;
      this.#pending.delete(entry);
      entry.reject(new DeadlineError(entry.ms));
    }
    if (this.#pending.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), Math.max(1, ms));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function reconnectStrategy(retries: number): number {
  // Back off to one attempt per second, with jitter so that API nodes do not reconnect in step.
  return Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 50);
}

/**
 * Per-connection settings: no offline queue (fail at once while disconnected), a bounded queue,
 * and a name. The name (`CLIENT SETNAME`, shown by `CLIENT LIST`) is also the first answer a
 * connection waits for: over TLS 1.3 a server that refuses the client's certificate does so only
 * after the handshake, and node-redis, whose other handshake commands ignore their errors, took
 * such a connection as ready and reconnected at once when it dropped, about 200 handshakes a
 * second against the server. Waiting for the name's answer makes the refusal a failed connection,
 * retried with `reconnectStrategy`'s backoff (decision D95).
 */
export function clientDefaults(tuning: RedisTuning, tls?: TlsFiles) {
  return {
    name: 'tessera',
    socket: { connectTimeout: tuning.connectTimeoutMs, reconnectStrategy, keepAlive: true, keepAliveInitialDelay: 5000, ...tlsOptions(tls) },
    disableOfflineQueue: true,
    commandsQueueMaxLength: tuning.maxQueuedCommands,
  };
}

/**
 * TLS socket options from PEM files, read when a client is made: its connections, reconnections
 * included, use what was read then. A certificate renewed on disk is taken by the next client
 * (`openClient` makes one when the server refuses the certificate). None: as the URL says
 * (`rediss://` speaks TLS with the system's CAs).
 */
function tlsOptions(tls: TlsFiles | undefined): { tls?: true; ca?: Buffer; cert?: Buffer; key?: Buffer } {
  if (tls === undefined) return {};
  return {
    tls: true,
    ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile) }),
    ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile) }),
    ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile) }),
  };
}

/**
 * The first connection, which the client would otherwise retry for ever. `onError` subscribes
 * to the client's errors: a refusal of its credentials, a server certificate it does not trust, or
 * the server's refusal of its client certificate (or of its lack of one) ends the wait at once with
 * that error (each is otherwise retried in silence until the deadline).
 */
export async function connectWithin(
  ms: number,
  connect: () => Promise<unknown>,
  destroy: () => void,
  onError: (listener: (error: unknown) => void) => void,
): Promise<void> {
  const refused = new Promise<never>((_, reject) =>
    onError((error) => {
      if ((error instanceof ErrorReply && REFUSED_CREDENTIALS.test(error.message)) || untrustedCertificate(error) !== null || refusedClientCertificate(error) !== null) {
        reject(error);
      }
    }),
  );
  refused.catch(() => undefined);
  try {
    await withDeadline(Promise.race([connect(), refused]), ms);
  } catch (error) {
    destroy();
    throw error;
  }
}

/**
 * Commands in flight on one client, so that it can be destroyed once they are
 * done (node-redis's own `close()` waits for pending replies for ever when
 * the server is frozen, and the client cannot be destroyed after it), and so
 * that a connection that went silent can be told from one that is merely busy.
 */
export class InFlight {
  #count = 0;
  #waiting: (() => void)[] = [];
  /** When a reply last arrived, or the first command was sent to an idle client. */
  #lastProgress = Date.now();

  track<T>(work: Promise<T>): Promise<T> {
    if (this.#count === 0) this.#lastProgress = Date.now();
    this.#count += 1;
    // then(), not finally(): finally costs three promises per command, then() one.
    return work.then(
      (value) => {
        this.#settle();
        return value;
      },
      (error: unknown) => {
        this.#settle();
        throw error;
      },
    );
  }

  #settle(): void {
    this.#count -= 1;
    this.#lastProgress = Date.now();
    if (this.#count === 0 && this.#waiting.length > 0) for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** Commands are waiting and nothing has settled for `ms`: the connection answers nothing. */
  silentFor(ms: number): boolean {
    return this.#count > 0 && Date.now() - this.#lastProgress >= ms;
  }

  /** Resolves when no command is in flight, or after `ms`. */
  async settled(ms: number): Promise<void> {
    if (this.#count === 0) return;
    await withDeadline(new Promise<void>((resolve) => this.#waiting.push(resolve)), ms).catch(() => undefined);
  }
}

/** Lets in-flight commands finish for up to `ms`, then drops the connections. */
export async function retire(inFlight: InFlight, destroy: () => void, ms: number): Promise<void> {
  await inFlight.settled(ms);
  try {
    destroy();
  } catch {
    // Already closed.
  }
}

/** How long a replaced client may finish the commands it has in flight. */
const RETIRE_AFTER_MS = 5000;

/**
 * A node-redis client (one server or a cluster) that can be swapped for a
 * freshly built one while calls keep flowing: new calls go to the new client,
 * the old one finishes what it has in flight and is then destroyed. At most
 * one build runs at a time, and builds are at least `minIntervalMs` apart.
 */
export class Replaceable<C> {
  #current: { readonly client: C; readonly inFlight: InFlight };
  #building = false;
  #lastBuild = Date.now();
  #closed = false;

  constructor(
    first: C,
    private readonly build: (current: C) => Promise<C>,
    private readonly destroy: (client: C) => void,
    private readonly minIntervalMs: number,
  ) {
    this.#current = { client: first, inFlight: new InFlight() };
  }

  /** Runs a command on the current client, counted as in flight on it. */
  run<T>(command: (client: C) => Promise<T>): Promise<T> {
    const { client, inFlight } = this.#current;
    return inFlight.track(command(client));
  }

  /** The current client has commands waiting and has answered nothing for `ms`. */
  silentFor(ms: number): boolean {
    return this.#current.inFlight.silentFor(ms);
  }

  /**
   * Builds a new client in the background and swaps it in once it is connected; with `from`, only
   * while `from` is still the current client (a retired one's late errors change nothing).
   */
  replace(from?: C): void {
    if (from !== undefined && from !== this.#current.client) return;
    if (this.#closed || this.#building || Date.now() - this.#lastBuild < this.minIntervalMs) return;
    this.#building = true;
    this.#lastBuild = Date.now();
    this.build(this.#current.client)
      .then((client) => {
        if (this.#closed) {
          this.destroy(client);
          return;
        }
        const previous = this.#current;
        this.#current = { client, inFlight: new InFlight() };
        void retire(previous.inFlight, () => this.destroy(previous.client), RETIRE_AFTER_MS);
      })
      .catch(() => undefined)
      .finally(() => {
        this.#building = false;
      });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const { client, inFlight } = this.#current;
    await retire(inFlight, () => this.destroy(client), 1000);
  }
}

type Client = Awaited<ReturnType<typeof connectClient>>;

async function connectClient(url: string, tuning: RedisTuning, tls: TlsFiles | undefined) {
  const client = createClient({ url, ...clientDefaults(tuning, tls) });
  // Errors surface through the commands that meet them; the client reconnects by itself.
  client.on('error', () => undefined);
  // A server that wants a password and got none answers the first command NOAUTH: ask one.
  await connectWithin(tuning.startupTimeoutMs, () => client.connect().then(() => client.ping()), () => client.destroy(), (listener) => client.on('error', listener));
  return client;
}

/**
 * One server. node-redis reconnects a closed connection by itself; what it
 * cannot see is a connection that stays open but answers nothing (a half-open
 * TCP connection after a network fault, a peer that is not the Redis it was).
 * Such a connection is replaced once it has been silent for a whole command
 * deadline while commands were waiting.
 */
export async function openClient(url: string, tuning: RedisTuning, tls?: TlsFiles, onRefused?: (alert: string) => void): Promise<Commands> {
  // A client certificate the server refuses (its CA rotated, the certificate expired) is one the
  // client would retry for ever with the files it read when it was made: a new client reads them
  // again, so a certificate renewed on disk is taken without a restart. Until then each new client
  // fails at once on the refusal, at most one per command deadline.
  const connect = async (): Promise<Client> => {
    const client = await connectClient(url, tuning, tls);
    client.on('error', (error: unknown) => {
      const alert = refusedClientCertificate(error);
      if (alert === null) return;
      onRefused?.(alert);
      clients.replace(client);
    });
    return client;
  };
  const clients: Replaceable<Client> = new Replaceable(await connect(), connect, (client) => client.destroy(), tuning.commandTimeoutMs);
  const library = tesseraFunctions(tuning);
  return {
    script: (name, keys, args) =>
      clients.run((c) =>
        callFunction(
          library,
          name,
          // node-redis only reads the arrays.
          (fn) => c.fCall(fn, { keys: keys as string[], arguments: args as string[] }),
          (code) => c.sendCommand(['FUNCTION', 'LOAD', code]),
        ),
      ),
    get: (key) => clients.run((c) => c.get(key)),
    setIfAbsent: async (key, value, deadline) =>
      (await clients.run((c) => c.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } }))) === 'OK',
    set: async (key, value, deadline) => void (await clients.run((c) => c.set(key, value, { expiration: { type: 'PXAT', value: deadline } }))),
    del: async (keys) => void (await clients.run((c) => c.del([...keys]))),
    command: (_key, args) => clients.run((c) => c.sendCommand([...args])),
    scanKeys: (cursor, match, count) =>
      clients.run(async (c) => {
        const reply = await c.scan(cursor, { MATCH: match, COUNT: count });
        return { keys: reply.keys, cursor: reply.cursor };
      }),
    listen: async () => undefined,
    ping: async () => void (await clients.run((c) => c.ping())),
    recover: () => {
      if (clients.silentFor(tuning.commandTimeoutMs)) clients.replace();
    },
    close: () => clients.close(),
  };
}

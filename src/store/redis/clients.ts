/**
 * node-redis clients as the store uses them: the few commands it needs, the
 * same on one server and on a cluster, and the client settings that keep a
 * dead server from queueing commands.
 */
import { createClient } from 'redis';
import type { RedisTuning } from './options.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

/** The commands the store uses. */
export interface Commands {
  script(name: ScriptName, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  /** SET NX PXAT: true when this call created the key. */
  setIfAbsent(key: string, value: string, deadline: number): Promise<boolean>;
  /** SET PXAT. */
  set(key: string, value: string, deadline: number): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  ping(): Promise<void>;
  /** Re-reads the cluster's slot map (a no-op on one server). */
  refreshTopology(): void;
  close(): Promise<void>;
}

/** The deadline was reached before Redis answered; the command may still run. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms; raise commandTimeoutMs if the server is merely slow`);
    this.name = 'DeadlineError';
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

/** Per-connection settings: no offline queue (fail at once while disconnected), a bounded queue. */
export function clientDefaults(tuning: RedisTuning) {
  return {
    socket: { connectTimeout: tuning.connectTimeoutMs, reconnectStrategy, keepAlive: true, keepAliveInitialDelay: 5000 },
    disableOfflineQueue: true,
    commandsQueueMaxLength: tuning.maxQueuedCommands,
  };
}

/** The first connection, which the client would otherwise retry for ever. */
export async function connectWithin(ms: number, connect: () => Promise<unknown>, destroy: () => void): Promise<void> {
  try {
    await withDeadline(connect(), ms);
  } catch (error) {
    destroy();
    throw error;
  }
}

/**
 * Commands in flight on one client, so that it can be destroyed once they are
 * done. (node-redis's own `close()` waits for pending replies for ever when
 * the server is frozen, and the client cannot be destroyed after it.)
 */
export class InFlight {
  #count = 0;
  #waiting: (() => void)[] = [];

  track<T>(work: Promise<T>): Promise<T> {
    this.#count += 1;
    return work.finally(() => {
      this.#count -= 1;
      if (this.#count === 0) for (const resolve of this.#waiting.splice(0)) resolve();
    });
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

export async function openClient(url: string, tuning: RedisTuning): Promise<Commands> {
  const client = createClient({ url, ...clientDefaults(tuning), scripts: SCRIPTS });
  // Errors surface through the commands that meet them; the client reconnects by itself.
  client.on('error', () => undefined);
  await connectWithin(tuning.startupTimeoutMs, () => client.connect(), () => client.destroy());
  const inFlight = new InFlight();
  return {
    script: (name, keys, args) => inFlight.track(client[name](keys, args)),
    get: (key) => inFlight.track(client.get(key)),
    setIfAbsent: async (key, value, deadline) =>
      (await inFlight.track(client.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } }))) === 'OK',
    set: async (key, value, deadline) => void (await inFlight.track(client.set(key, value, { expiration: { type: 'PXAT', value: deadline } }))),
    del: async (keys) => void (await inFlight.track(client.del([...keys]))),
    ping: async () => void (await inFlight.track(client.ping())),
    refreshTopology: () => undefined,
    close: () => retire(inFlight, () => client.destroy(), 1000),
  };
}

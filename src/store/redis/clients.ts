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

/** Lets in-flight commands finish, for a while. */
export async function closeGracefully(close: () => Promise<unknown>, destroy: () => void, ms = 1000): Promise<void> {
  try {
    await withDeadline(close(), ms);
  } catch {
    destroy();
  }
}

export async function openClient(url: string, tuning: RedisTuning): Promise<Commands> {
  const client = createClient({ url, ...clientDefaults(tuning), scripts: SCRIPTS });
  // Errors surface through the commands that meet them; the client reconnects by itself.
  client.on('error', () => undefined);
  await connectWithin(tuning.startupTimeoutMs, () => client.connect(), () => client.destroy());
  return {
    script: (name, keys, args) => client[name](keys, args),
    get: (key) => client.get(key),
    setIfAbsent: async (key, value, deadline) =>
      (await client.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } })) === 'OK',
    set: async (key, value, deadline) => void (await client.set(key, value, { expiration: { type: 'PXAT', value: deadline } })),
    del: async (keys) => void (await client.del([...keys])),
    ping: async () => void (await client.ping()),
    refreshTopology: () => undefined,
    close: () => closeGracefully(() => client.close(), () => client.destroy()),
  };
}

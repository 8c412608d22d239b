/**
 * The Redis and Redis Cluster engines.
 *
 * A session is five hashes under one hash tag (`keys.ts`); each call that
 * touches it is one Lua script (`lua/`), run atomically by the node that owns
 * the slot: `load` and `apply` are one round trip each. Redis expires the keys
 * by itself (`sweep` has nothing to do). The user index lives in the user's
 * slot and follows the session's deadline; see `create` for how two
 * concurrent sign-ins of one user end up in one session.
 */
import { newDevice, type DeviceLabel } from '../../domain/devices.js';
import type { Operation } from '../../domain/operations.js';
import { partOf } from '../../domain/operations.js';
import type { ChangeRecord, DataPart } from '../../domain/parts.js';
import {
  StoreUnavailableError,
  type ApplyOptions,
  type ApplyResult,
  type Caller,
  type CreateResult,
  type LoadOptions,
  type LoadedSession,
  type NewSession,
  type SessionStore,
  type StoreSettings,
} from '../session-store.js';
import { encodeDevice, encodeMeta, encodePartFields } from './codec.js';
import { RedisConnection } from './connection.js';
import { keyLayout, type KeyLayout } from './keys.js';
import { DEFAULT_REDIS_TUNING, expiryStep, validateRedisOptions, type RedisStoreOptions } from './options.js';
import { readApplyReply, readLoadReply, readMergeReply, readTouchReply, type Settled } from './replies.js';

export type { RedisStoreOptions, RedisTuning } from './options.js';

/** How often create retries when sign-ins of one user keep racing. */
const CREATE_ATTEMPTS = 8;
/** Background retries of a user index command that failed (ms after the failure). */
const INDEX_RETRY_DELAYS = [1000, 3000, 9000];

export class RedisStore implements SessionStore {
  readonly engine: 'redis' | 'redis-cluster';
  readonly #connection: RedisConnection;
  readonly #settings: StoreSettings;
  readonly #keys: KeyLayout;
  readonly #step: number;
  readonly #pendingRetries = new Set<NodeJS.Timeout>();

  private constructor(options: RedisStoreOptions, connection: RedisConnection, keys: KeyLayout, step: number) {
    this.engine = options.engine;
    this.#settings = {
      idleTimeoutMs: options.idleTimeoutMs,
      limits: options.limits,
      origin: options.origin,
      ...(options.onBytesRead ? { onBytesRead: options.onBytesRead } : {}),
    };
    this.#connection = connection;
    this.#keys = keys;
    this.#step = step;
  }

  /** Connects (throws `StoreUnavailableError` when Redis cannot be reached within the startup timeout). */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    validateRedisOptions(options);
    const tuning = { ...DEFAULT_REDIS_TUNING, ...options.tuning };
    const target = options.engine === 'redis' ? { engine: options.engine, url: options.url } : { engine: options.engine, nodes: options.nodes };
    const connection = await RedisConnection.open(target, tuning);
    return new RedisStore(options, connection, keyLayout(tuning.keyPrefix), expiryStep(options, tuning));
  }

  async load(sessionId: string, parts: readonly DataPart[], now: number, { known = {}, credential }: LoadOptions = {}): Promise<LoadedSession | null> {
    // '-': not wanted; '*': wanted; a version number: wanted only if it moved on.
    const flag = (part: DataPart): string => {
      if (!parts.includes(part)) return '-';
      const version = known[part];
      return version === undefined ? '*' : version.slice(1);
    };
    const reply = await this.#connection.script(
      'tesseraLoad',
      this.#keys.session(sessionId),
      [String(now), flag('cart'), flag('prefs'), flag('history'), flag('devices'), credential?.deviceId ?? '', credential?.hash ?? ''],
      { idempotent: true },
    );
    this.#settings.onBytesRead?.(replyLength(reply));
    return readLoadReply(sessionId, reply);
  }

  /**
   * A guest session is one script. A user's session is found through the
   * index; when there is none (or it names a dead session), this session's
   * keys are written first and the index claimed after (SET NX, or a swap
   * of the dead id): the loser of a race joins the winner's session, which
   * exists by then, and deletes its own.
   */
  async create(session: NewSession, { now, hlc }: { readonly now: number; readonly hlc: string }): Promise<CreateResult> {
    const { meta } = session;
    const created: CreateResult = { status: 'created', session: createdView(session) };
    if (meta.userId === null) {
      await this.#insert(session);
      return created;
    }
    const indexKey = this.#keys.user(meta.userId);
    let deadline: number | null = null;
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt += 1) {
      const indexed = await this.#connection.get(indexKey);
      if (indexed === meta.id) return created;
      if (indexed !== null) {
        const joined = await this.apply(indexed, { kind: 'admin' }, deviceAdd(session), { now, hlc });
        if (joined.status === 'applied' || joined.status === 'rejected') {
          if (deadline !== null) await this.#connection.del(this.#keys.session(meta.id));
          return joined.status === 'applied' ? { status: 'joined', session: joined.session } : joined;
        }
        deadline ??= await this.#insert(session);
        const replaced = await this.#connection.script('tesseraIndexReplace', [indexKey], [indexed, meta.id, String(deadline)], {
          idempotent: true,
        });
        if (replaced === 1) return created;
      } else {
        deadline ??= await this.#insert(session);
        if (await this.#connection.setIfAbsent(indexKey, meta.id, deadline)) return created;
      }
    }
    throw new StoreUnavailableError(this.engine, {
      cause: new Error(`sign-ins of user "${meta.userId}" kept racing; gave up after ${CREATE_ATTEMPTS} attempts`),
    });
  }

  async apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult> {
    const { now, hlc } = options;
    const { limits, origin, idleTimeoutMs } = this.#settings;
    const args = [
      String(now), hlc, String(idleTimeoutMs), String(this.#step), origin,
      String(limits.cartLines), String(limits.maxQuantity), String(limits.prefsBytes), String(limits.historyItems), String(limits.devices),
      caller.kind, caller.kind === 'device' ? caller.deviceId : '', caller.kind === 'device' ? caller.tokenHash : '',
      options.ifVersion ?? '', options.knownVersion ?? '', op.kind, ...operationArguments(op, now, hlc),
    ];
    const reply = await this.#connection.script('tesseraApply', this.#keys.session(sessionId), args, { idempotent: false });
    this.#settings.onBytesRead?.(replyLength(reply));
    const applied = readApplyReply(sessionId, partOf(op), reply, { hlc, origin });
    if (applied.result.status === 'applied') {
      const { meta } = applied.result.session;
      await this.#followIndex({
        done: true,
        created: false,
        ended: meta.endedAt !== undefined,
        keyDeadline: applied.keyDeadline ?? 0,
        deadlineMoved: applied.deadlineMoved,
        userId: meta.userId,
      }, sessionId);
    }
    return applied.result;
  }

  /** Joins records, one script per session; joins are idempotent, so a lost reply may be retried. */
  async merge(records: readonly ChangeRecord[], now: number): Promise<void> {
    const bySession = new Map<string, ChangeRecord[]>();
    for (const record of records) bySession.set(record.sessionId, [...(bySession.get(record.sessionId) ?? []), record]);
    await Promise.all(
      [...bySession].map(async ([sessionId, sessionRecords]) => {
        const args = [String(now), String(this.#step), String(this.#settings.limits.historyItems)];
        for (const record of sessionRecords) {
          const fields = encodePartFields(record.part, record.state);
          args.push(record.part, String(fields.length / 2), ...fields);
        }
        const reply = await this.#connection.script('tesseraMerge', this.#keys.session(sessionId), args, { idempotent: true });
        await this.#followIndex(readMergeReply(reply), sessionId);
      }),
    );
  }

  async touch(sessionId: string, deviceId: string, now: number): Promise<void> {
    const args = [String(now), deviceId, String(this.#settings.idleTimeoutMs), String(this.#step)];
    // Sliding twice changes nothing: a lost reply may be retried.
    const reply = await this.#connection.script('tesseraTouch', this.#keys.session(sessionId), args, { idempotent: true });
    await this.#followIndex(readTouchReply(reply), sessionId);
  }

  async findUserSession(userId: string, now: number): Promise<string | null> {
    const sessionId = await this.#connection.get(this.#keys.user(userId));
    if (sessionId === null) return null;
    return (await this.load(sessionId, [], now)) === null ? null : sessionId;
  }

  async sweep(): Promise<number> {
    return 0;
  }

  async ping(): Promise<void> {
    await this.#connection.ping();
  }

  async close(): Promise<void> {
    for (const timer of this.#pendingRetries) clearTimeout(timer);
    this.#pendingRetries.clear();
    await this.#connection.close();
  }

  /** Writes a new session's keys; returns their deadline. */
  async #insert({ meta, deviceId, device }: NewSession): Promise<number> {
    const args = [String(this.#step), deviceId, encodeDevice(device), ...encodeMeta(meta)];
    const reply = await this.#connection.script('tesseraCreate', this.#keys.session(meta.id), args, { idempotent: false });
    const [status, deadline] = Array.isArray(reply) ? reply : [];
    if (status !== 'created') {
      throw new StoreUnavailableError(this.engine, { cause: new Error(`session id "${meta.id}" is already taken`) });
    }
    return Number(deadline);
  }

  /**
   * Keeps the user index in step with the session: same deadline (moved only
   * up), set for a session created from replicated records, gone when the
   * session ends. The session's own change is stored by then, so a failure
   * here does not fail the call: the index command is retried in the background.
   */
  async #followIndex(settled: Settled, sessionId: string): Promise<void> {
    const { userId } = settled;
    if (!settled.done || userId === null) return;
    const indexKey = this.#keys.user(userId);
    const deadline = String(settled.keyDeadline);
    if (settled.ended) {
      await this.#indexCommand(() => this.#connection.script('tesseraIndexDrop', [indexKey], [sessionId], { idempotent: true }));
    } else if (settled.created) {
      // As the embedded engine: a session created from replicated records becomes the user's.
      await this.#indexCommand(() => this.#connection.set(indexKey, sessionId, settled.keyDeadline));
    } else if (settled.deadlineMoved) {
      await this.#indexCommand(() => this.#connection.script('tesseraIndexRefresh', [indexKey], [sessionId, deadline], { idempotent: true }));
    }
  }

  async #indexCommand(command: () => Promise<unknown>, attempt = 0): Promise<void> {
    try {
      await command();
    } catch {
      const delay = INDEX_RETRY_DELAYS[attempt];
      if (delay === undefined) return;
      const timer = setTimeout(() => {
        this.#pendingRetries.delete(timer);
        void this.#indexCommand(command, attempt + 1);
      }, delay);
      timer.unref();
      this.#pendingRetries.add(timer);
    }
  }
}

function createdView({ meta, deviceId, device }: NewSession): LoadedSession {
  return {
    meta,
    devices: { devices: { [deviceId]: device } },
    versions: { cart: 'v0', prefs: 'v0', history: 'v0', devices: 'v1' },
  };
}

function deviceAdd({ deviceId, device }: NewSession): Operation {
  const { name, kind, userAgent, ip, hash } = device;
  const label: DeviceLabel = Object.fromEntries(Object.entries({ name, kind, userAgent, ip }).filter(([, v]) => v !== undefined));
  return { kind: 'device.add', deviceId, label, hash };
}

/** The operation's own arguments to the apply script (after its kind). */
function operationArguments(op: Operation, now: number, hlc: string): string[] {
  switch (op.kind) {
    case 'cart.add':
    case 'cart.set':
      return [op.sku, String(op.quantity), op.attributes === undefined ? '' : JSON.stringify(op.attributes)];
    case 'cart.remove':
      return [op.sku, '0', ''];
    case 'cart.clear':
    case 'session.end':
      return [];
    case 'prefs.patch':
      return Object.entries(op.patch).flatMap(([key, value]) => [key, JSON.stringify(value)]);
    case 'history.add':
      return [op.productId, String(op.viewedAt)];
    case 'device.add':
      // The new device is built here, as applyOperation builds it; the script checks the limit and joins it.
      return [op.deviceId, encodeDevice(newDevice(op.label, op.hash, now, hlc))];
    case 'device.rotate':
      return [op.deviceId, op.hash, String(op.graceMs)];
    case 'device.revoke':
      return [op.deviceId];
  }
}

/**
 * Characters of the strings in a script reply: what crossed the wire from
 * Redis, give or take framing (a character counts as a byte; counting UTF-8
 * bytes exactly would cost a scan of every string on every request).
 */
function replyLength(reply: unknown): number {
  if (typeof reply === 'string') return reply.length;
  if (Array.isArray(reply)) {
    let total = 0;
    for (const item of reply) total += replyLength(item);
    return total;
  }
  return 0;
}

/**
 * The Redis and Redis Cluster engines.
 *
 * A session is four hashes, a sorted set and a list under one hash tag (`keys.ts`); each
 * call that touches it is one Lua script (`lua/`), run atomically by the node
 * that owns the slot: `load` and `apply` are one round trip each, and a
 * script that commits a change appends it to the feed in the same step. Redis
 * expires the keys by itself (`sweep` has nothing to do). The user index lives
 * in the user's slot and follows the session's deadline; see `create` for how
 * two concurrent sign-ins of one user end up in one session, and
 * `#claimIndex` for two sessions of one user made in two regions.
 */
import { newDevice, type Seen } from '../../domain/devices.js';
import type { Hlc } from '../../domain/hlc.js';
import type { Operation } from '../../domain/operations.js';
import { partOf } from '../../domain/operations.js';
import { EMPTY_PARTS, type ChangeRecord, type DataPart } from '../../domain/parts.js';
import { isSessionLive } from '../../domain/session.js';
import { EMPTY_VERSION, partVersion, sessionDigest } from '../../domain/versions.js';
import {
  StoreUnavailableError,
  deviceAddOf,
  type ApplyOptions,
  type ApplyResult,
  type Caller,
  type CreateResult,
  type LoadOptions,
  type LoadedSession,
  type MergeReport,
  type NewSession,
  type ScannedSession,
  type SessionSnapshot,
  type SessionStore,
  type StoreSettings,
} from '../session-store.js';
import { creationRecords, precedes, redirectRecords, snapshotRecords } from '../transition.js';
import { decodeMeta, decodeSnapshot, encodeDevice, encodeMeta, encodePartFields, type FieldList } from './codec.js';
import { RedisConnection } from './connection.js';
import { keyLayout, type KeyLayout } from './keys.js';
import { DEFAULT_REDIS_TUNING, expiryStep, validateRedisOptions, type RedisStoreOptions } from './options.js';
import { RedisFeed } from './redis-feed.js';
import { readApplyReply, readLoadReply, readMergeReply, readTouchReply, type Settled } from './replies.js';

export type { RedisStoreOptions, RedisTuning } from './options.js';

/** How often create retries when sign-ins of one user keep racing. */
const CREATE_ATTEMPTS = 8;
/** Background retries of a user index command that failed (ms after the failure). */
const INDEX_RETRY_DELAYS = [1000, 3000, 9000];
/** A merged-away session names the one it went into; chains are followed this far. */
const REDIRECT_HOPS = 4;
/** Records kept per session while its metadata has not arrived (as the embedded engine). */
const PARKED_PER_SESSION = 1000;
/** Digests read at once (18 µs of Redis's time each): what one repair question adds ahead of the API's calls. */
const DIGEST_BATCH = 100;

/** What the user index holds: the session's creation time and id (a bare id before creation times were kept). */
function readIndex(value: string | null): { readonly sessionId: string; readonly createdAt: number } | null {
  if (value === null) return null;
  const match = /^(\d+):(.+)$/.exec(value);
  return match ? { sessionId: match[2]!, createdAt: Number(match[1]) } : { sessionId: value, createdAt: 0 };
}

export class RedisStore implements SessionStore {
  readonly engine: 'redis' | 'redis-cluster';
  readonly feed: RedisFeed | null;
  readonly #connection: RedisConnection;
  readonly #settings: StoreSettings;
  readonly #keys: KeyLayout;
  readonly #step: number;
  readonly #pendingRetries = new Set<NodeJS.Timeout>();

  private constructor(options: RedisStoreOptions, connection: RedisConnection, keys: KeyLayout, step: number) {
    this.engine = options.engine;
    this.#settings = options;
    this.#connection = connection;
    this.#keys = keys;
    this.#step = step;
    this.feed =
      options.feedConsumers.length > 0
        ? new RedisFeed(connection, keys, { cluster: options.engine === 'redis-cluster', consumers: options.feedConsumers })
        : null;
  }

  /** Connects (throws `StoreUnavailableError` when Redis cannot be reached within the startup timeout). */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    validateRedisOptions(options);
    const tuning = { ...DEFAULT_REDIS_TUNING, ...options.tuning };
    const security = {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.onCertificateRefused === undefined ? {} : { onRefused: options.onCertificateRefused }),
    };
    const target =
      options.engine === 'redis'
        ? { engine: options.engine, url: options.url, ...security }
        : { engine: options.engine, nodes: options.nodes, ...security, ...(options.credentials === undefined ? {} : { credentials: options.credentials }) };
    const connection = await RedisConnection.open(target, tuning, options.tracer ?? null, options.onCallTimed ?? null);
    const store = new RedisStore(options, connection, keyLayout(tuning.keyPrefix, options.engine === 'redis-cluster'), expiryStep(options, tuning));
    // In the background: until a slot's stream exists, only a migration of that slot makes its writes wait.
    void store.feed?.prepare().catch(() => undefined);
    return store;
  }

  /** The keys of a script that may commit a change: the session's, and its feed shard's when the feed is on. */
  #sessionKeys(sessionId: string, parked = false): readonly string[] {
    return this.#keys.session(sessionId, { feed: this.feed !== null, parked });
  }

  async load(sessionId: string, parts: readonly DataPart[], now: number, { known = {}, credential }: LoadOptions = {}): Promise<LoadedSession | null> {
    // '-': not wanted; '*': wanted; a version: wanted only if it moved on.
    const flag = (part: DataPart): string => (parts.includes(part) ? (known[part] ?? '*') : '-');
    const args = [
      String(now), flag('cart'), flag('prefs'), flag('history'), flag('devices'),
      credential?.deviceId ?? '', credential?.hash ?? '', credential?.gen === undefined ? '' : String(credential.gen),
      String(this.#settings.idleTimeoutMs),
    ];
    let id = sessionId;
    let alias: LoadedSession['alias'];
    for (let hop = 0; hop <= REDIRECT_HOPS; hop += 1) {
      const reply = await this.#connection.script('tesseraLoad', this.#keys.session(id), args, { idempotent: true });
      this.#settings.onBytesRead?.(replyLength(reply));
      const loaded = readLoadReply(id, reply);
      if (loaded === 'migrate') {
        await this.#connection.script('tesseraMigrate', this.#keys.session(id), [], { idempotent: true });
        continue;
      }
      if (loaded !== null && 'moved' in loaded) {
        alias ??= { id: sessionId, csrfSecret: loaded.csrfSecret };
        id = loaded.moved;
        continue;
      }
      return loaded === null || alias === undefined ? loaded : { ...loaded, alias };
    }
    return null;
  }

  /**
   * A guest session is one script. A user's session is found through the
   * index; when there is none (or it names a dead session), this session's
   * keys are written first and the index claimed after (a compare-and-set
   * on what the index held): the loser of a race joins the winner's session,
   * which exists by then, and ends its own.
   */
  async create(session: NewSession, { now, hlc }: { readonly now: number; readonly hlc: Hlc }): Promise<CreateResult> {
    const { meta } = session;
    const view = createdView(session, hlc);
    const created: CreateResult = {
      status: 'created',
      session: view,
      // What the create script appended: the metadata and the first device (as `creationRecords`).
      records: creationRecords({ ...view, cart: EMPTY_PARTS.cart, prefs: EMPTY_PARTS.prefs, history: EMPTY_PARTS.history }, { hlc, origin: this.#settings.origin }),
      hlc,
    };
    if (meta.userId === null) {
      await this.#insert(session, hlc);
      return created;
    }
    const indexKey = this.#keys.user(meta.userId);
    const ours = `${meta.createdAt}:${meta.id}`;
    let deadline: number | null = null;
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt += 1) {
      const held = await this.#connection.get(indexKey);
      const indexed = readIndex(held);
      if (indexed?.sessionId === meta.id) return created;
      if (indexed !== null) {
        const joined = await this.apply(indexed.sessionId, { kind: 'admin' }, deviceAddOf(session), { now, hlc });
        if (joined.status === 'applied' || joined.status === 'rejected') {
          // Our own session lost the race: end it, so that its creation (already in the feed) ends everywhere.
          if (deadline !== null) await this.apply(meta.id, { kind: 'admin' }, { kind: 'session.end' }, { now, hlc });
          return joined.status === 'applied' ? { status: 'joined', session: joined.session, records: joined.records, hlc: joined.hlc } : joined;
        }
      }
      deadline ??= await this.#insert(session, hlc);
      if (await this.#swapIndex(meta.userId, held ?? '', ours, meta.id, deadline)) return created;
    }
    throw new StoreUnavailableError(this.engine, {
      cause: new Error(`sign-ins of user "${meta.userId}" kept racing; gave up after ${CREATE_ATTEMPTS} attempts`),
    });
  }

  async apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult> {
    const { now, hlc } = options;
    const { limits, origin, idleTimeoutMs, slideAfterMs, horizonMs } = this.#settings;
    const args = [
      String(now), hlc, String(idleTimeoutMs), String(slideAfterMs), String(this.#step), String(horizonMs), origin,
      String(limits.cartLines), String(limits.maxQuantity), String(limits.prefsBytes), String(limits.historyItems), String(limits.devices),
      caller.kind, caller.kind === 'device' ? caller.deviceId : '', caller.kind === 'device' ? caller.tokenHash : '',
      caller.kind === 'device' && caller.gen !== undefined ? String(caller.gen) : '',
      options.ifVersion ?? '', options.knownVersion ?? '', options.seen?.ip ?? '', options.seen?.country ?? '',
      op.kind, ...operationArguments(op, now, hlc),
    ];
    let id = sessionId;
    let alias: LoadedSession['alias'];
    for (let hop = 0; hop <= REDIRECT_HOPS; hop += 1) {
      const reply = await this.#connection.script('tesseraApply', this.#sessionKeys(id), args, { idempotent: false });
      this.#settings.onBytesRead?.(replyLength(reply));
      const applied = readApplyReply(id, partOf(op), reply, origin);
      if ('moved' in applied) {
        alias ??= { id: sessionId, csrfSecret: applied.moved.csrfSecret };
        id = applied.moved.moved;
        continue;
      }
      const { result } = applied;
      if (result.status !== 'applied') return result;
      this.#wroteFeed(id);
      const { meta } = result.session;
      await this.#followIndex(
        { done: true, created: false, ended: meta.endedAt !== undefined, keyDeadline: applied.keyDeadline ?? 0, deadlineMoved: applied.deadlineMoved, userId: meta.userId },
        id,
      );
      return alias === undefined ? result : { ...result, session: { ...result.session, alias } };
    }
    return { status: 'not-found' };
  }

  async merge(records: readonly ChangeRecord[], now: number): Promise<MergeReport[]> {
    const bySession = new Map<string, ChangeRecord[]>();
    for (const record of records) {
      const list = bySession.get(record.sessionId);
      if (list === undefined) bySession.set(record.sessionId, [record]);
      else list.push(record);
    }
    return Promise.all([...bySession].map(([sessionId, sessionRecords]) => this.#mergeSession(sessionId, sessionRecords, now, true, REDIRECT_HOPS)));
  }

  async touch(sessionId: string, deviceId: string, now: number, hlc: Hlc, seen?: Seen): Promise<void> {
    const { idleTimeoutMs, slideAfterMs, horizonMs, origin } = this.#settings;
    const args = [
      String(now), deviceId, hlc, String(idleTimeoutMs), String(slideAfterMs), String(this.#step), String(horizonMs), origin,
      seen?.ip ?? '', seen?.country ?? '',
    ];
    let id = sessionId;
    for (let hop = 0; hop <= REDIRECT_HOPS; hop += 1) {
      // Sliding twice changes nothing, and a change appended twice is joined once: a lost reply may be retried.
      const reply = readTouchReply(await this.#connection.script('tesseraTouch', this.#sessionKeys(id), args, { idempotent: true }));
      if ('moved' in reply) {
        id = reply.moved;
        continue;
      }
      if (reply.done) this.#wroteFeed(id);
      await this.#followIndex(reply, id);
      return;
    }
  }

  async findUserSession(userId: string, now: number): Promise<string | null> {
    const indexed = readIndex(await this.#connection.get(this.#keys.user(userId)));
    if (indexed === null) return null;
    return (await this.load(indexed.sessionId, [], now))?.meta.id ?? null;
  }

  async userSessions(userId: string): Promise<string[]> {
    const keys = [this.#keys.user(userId), this.#keys.userSessions(userId)];
    const [indexed, members] = (await this.#connection.script('tesseraUserSessions', keys, [], { idempotent: true })) as [string | null, string[]];
    const ids = new Set(members.map(String));
    const current = readIndex(indexed);
    if (current !== null) ids.add(current.sessionId);
    return [...ids].sort();
  }

  /**
   * Ends each live session of the user for `erased` (through `apply`, so the
   * end reaches the feed and the index), then erases it to a tombstone
   * (`ERASE_LUA`, which sends the tombstone to the feed as well), and last drops the user's index and sessions. A sign-in
   * of the user while this runs may start a session after it.
   */
  async eraseUser(userId: string, now: number, hlc: Hlc): Promise<number> {
    const ids = await this.userSessions(userId);
    const args = [String(now), String(this.#step), String(this.#settings.horizonMs), hlc, this.#settings.origin];
    for (const id of ids) {
      await this.apply(id, { kind: 'admin' }, { kind: 'session.end', reason: 'erased' }, { now, hlc });
      await this.#connection.script('tesseraErase', this.#sessionKeys(id, true), args, { idempotent: true });
    }
    const keys = [this.#keys.user(userId), this.#keys.userSessions(userId)];
    await this.#connection.command(keys[0]!, ['DEL', ...keys], { idempotent: true });
    return ids.length;
  }

  async snapshot(sessionId: string): Promise<SessionSnapshot | null> {
    const reply = await this.#connection.script('tesseraSnapshot', this.#keys.session(sessionId), [], { idempotent: true });
    return readSnapshot(sessionId, reply);
  }

  async scan(cursor: string, limit: number): Promise<{ sessions: ScannedSession[]; next: string | null }> {
    let position = cursor === '' ? '0' : cursor;
    const sessions: ScannedSession[] = [];
    // SCAN's count is a hint and a step may find nothing: step on until something is found or the end.
    do {
      const { keys, cursor: next } = await this.#connection.scanKeys(position, this.#keys.metaPattern, limit);
      const ids = keys.map((key) => this.#keys.sessionOfMetaKey(key));
      const digests = await this.digests(ids);
      ids.forEach((id, i) => {
        const digest = digests[i];
        if (digest != null) sessions.push({ id, digest });
      });
      position = next;
    } while (sessions.length === 0 && position !== '0');
    return { sessions, next: position === '0' ? null : position };
  }

  /**
   * One read-only script per session, of its metadata alone, pipelined
   * `DIGEST_BATCH` at a time: a repair's list of thousands never queues more
   * than a couple of milliseconds of Redis's time ahead of the API's calls.
   */
  async digests(sessionIds: readonly string[]): Promise<(string | null)[]> {
    const digests: (string | null)[] = [];
    for (let start = 0; start < sessionIds.length; start += DIGEST_BATCH) {
      const batch = sessionIds.slice(start, start + DIGEST_BATCH);
      digests.push(...(await Promise.all(batch.map((sessionId) => this.#digest(sessionId)))));
    }
    return digests;
  }

  async #digest(sessionId: string): Promise<string | null> {
    const reply = await this.#connection.script('tesseraDigest', this.#keys.session(sessionId), [], { idempotent: true });
    if (!Array.isArray(reply)) return null;
    const { meta, versions } = decodeMeta(sessionId, reply as FieldList);
    return sessionDigest(meta, versions);
  }

  async readMark(name: string): Promise<string | null> {
    const value = await this.#connection.command(this.#keys.marks, ['HGET', this.#keys.marks, name], { idempotent: true });
    return typeof value === 'string' ? value : null;
  }

  async writeMark(name: string, value: string): Promise<void> {
    await this.#connection.command(this.#keys.marks, ['HSET', this.#keys.marks, name, value], { idempotent: true });
  }

  /** On Redis's clock: `now` is not used. */
  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    // A lost reply is retried: the holder renewing its own lease is idempotent.
    return (await this.#connection.script('tesseraLease', [this.#keys.lease(name)], [holder, String(ttlMs)], { idempotent: true })) === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.#connection.script('tesseraRelease', [this.#keys.lease(name)], [holder], { idempotent: true });
  }

  async sweep(): Promise<number> {
    return 0;
  }

  /** A script may have written the session's feed shard: readers in this process look there next. */
  #wroteFeed(sessionId: string): void {
    this.feed?.written(this.#keys.shardOf(sessionId));
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
  async #insert({ meta, deviceId, device }: NewSession, hlc: Hlc): Promise<number> {
    const { horizonMs, origin } = this.#settings;
    const args = [String(this.#step), String(horizonMs), origin, hlc, deviceId, encodeDevice(device), ...encodeMeta(meta)];
    const reply = await this.#connection.script('tesseraCreate', this.#sessionKeys(meta.id), args, { idempotent: false });
    this.#wroteFeed(meta.id);
    const [status, deadline] = Array.isArray(reply) ? reply : [];
    if (status !== 'created') {
      throw new StoreUnavailableError(this.engine, { cause: new Error(`session id "${meta.id}" is already taken`) });
    }
    return Number(deadline);
  }

  /**
   * One session's records, by the merge script. `emit`: records of this
   * region go to the feed (not when they are the parts of a session merged
   * away, which every region moves by itself).
   */
  async #mergeSession(sessionId: string, records: readonly ChangeRecord[], now: number, emit: boolean, hops: number): Promise<MergeReport> {
    const { horizonMs, origin, limits } = this.#settings;
    const args = [String(now), String(this.#step), String(horizonMs), String(limits.historyItems), emit ? origin : '', String(PARKED_PER_SESSION)];
    for (const record of records) {
      const fields = encodePartFields(record.part, record.state);
      args.push(record.part, record.hlc, record.origin, String(fields.length / 2), ...fields);
    }
    // Joins are idempotent and a change appended twice is joined once: a lost reply may be retried.
    const reply = readMergeReply(await this.#connection.script('tesseraMerge', this.#sessionKeys(sessionId, true), args, { idempotent: true }));
    if (emit) this.#wroteFeed(sessionId);
    switch (reply.kind) {
      case 'parked':
      case 'ignored':
        return { sessionId, outcome: reply.kind, changed: [] };
      case 'redirect':
        if (hops > 0) await this.#mergeSession(reply.into, redirectRecords(records, reply.into), now, emit, hops - 1);
        return { sessionId, outcome: 'redirected', changed: [], into: reply.into };
      case 'stored': {
        const { settled } = reply;
        await this.#followIndex({ ...settled, created: false }, sessionId);
        if (reply.live && !settled.ended && settled.userId !== null) {
          await this.#claimIndex({ sessionId, createdAt: reply.createdAt, userId: settled.userId, deadline: settled.keyDeadline }, now);
        }
        return { sessionId, outcome: reply.outcome, changed: reply.changed };
      }
    }
  }

  /**
   * Makes the index name the session, unless it names another live session of
   * the user; then the one `precedes` picks stays and the other is merged
   * into it — what every region decides, whichever of the two it saw first.
   */
  async #claimIndex(session: { sessionId: string; createdAt: number; userId: string; deadline: number }, now: number): Promise<void> {
    const indexKey = this.#keys.user(session.userId);
    const ours = `${session.createdAt}:${session.sessionId}`;
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt += 1) {
      const held = await this.#connection.get(indexKey);
      const indexed = readIndex(held);
      if (indexed?.sessionId === session.sessionId) return;
      const other = indexed === null ? null : await this.snapshot(indexed.sessionId);
      if (other === null || other.meta.mergedInto !== undefined || !isSessionLive(other.meta, now)) {
        if (await this.#swapIndex(session.userId, held ?? '', ours, session.sessionId, session.deadline)) return;
        continue;
      }
      // Registered as the user's whichever stays: the other is merged into it, and keeps the user's id.
      if (precedes({ createdAt: session.createdAt, id: session.sessionId }, other.meta)) {
        if (!(await this.#swapIndex(session.userId, held!, ours, session.sessionId, session.deadline))) continue;
        await this.#mergeAway(other.meta.id, session.sessionId, now);
      } else {
        const keys = [indexKey, this.#keys.userSessions(session.userId)];
        await this.#connection.script('tesseraIndexRegister', keys, [session.sessionId, String(session.deadline)], { idempotent: true });
        await this.#mergeAway(session.sessionId, other.meta.id, now);
      }
      return;
    }
  }

  /**
   * Moves a session's parts into the winner, across slots, in steps that a
   * crash at any point leaves safe: copy its parts over; mark it merged (from
   * then on it redirects) and take its parts as they were at that moment; copy
   * those; only then drop them. Every copy is a join, so repeating one is harmless.
   */
  async #mergeAway(loser: string, winner: string, now: number): Promise<void> {
    const first = await this.snapshot(loser);
    if (first === null) return;
    const stamp = { hlc: first.meta.t ?? '', origin: this.#settings.origin };
    await this.#mergeSession(winner, redirectRecords(snapshotRecords(first, stamp), winner), now, false, REDIRECT_HOPS);
    const keys = this.#keys.session(loser);
    const final = readSnapshot(loser, await this.#connection.script('tesseraMarkMerged', keys, [winner], { idempotent: true }));
    if (final === null) return;
    await this.#mergeSession(winner, redirectRecords(snapshotRecords(final, stamp), winner), now, false, REDIRECT_HOPS);
    await this.#connection.script('tesseraWipeMerged', keys, [String(this.#step), String(this.#settings.horizonMs)], { idempotent: true });
  }

  /**
   * Sets the user's index to `value` if it holds `expected` ('' for nothing),
   * and registers the session as the user's in any case (`keys.ts`).
   */
  async #swapIndex(userId: string, expected: string, value: string, sessionId: string, deadline: number): Promise<boolean> {
    const keys = [this.#keys.user(userId), this.#keys.userSessions(userId)];
    // A lost reply is not retried: the retry would find its own value and answer "not swapped".
    return (await this.#connection.script('tesseraIndexSwap', keys, [expected, value, String(deadline), sessionId], { idempotent: false })) === 1;
  }

  /**
   * Keeps the user index in step with the session: same deadline (moved only
   * up), gone when the session ends. The session's own change is stored by
   * then, so a failure here does not fail the call: the index command is
   * retried in the background.
   */
  async #followIndex(settled: Settled, sessionId: string): Promise<void> {
    const { userId } = settled;
    if (!settled.done || userId === null) return;
    const keys = [this.#keys.user(userId), this.#keys.userSessions(userId)];
    const deadline = String(settled.keyDeadline);
    if (settled.ended) {
      await this.#indexCommand(() => this.#connection.script('tesseraIndexDrop', keys, [sessionId, deadline], { idempotent: true }));
    } else if (settled.deadlineMoved) {
      await this.#indexCommand(() => this.#connection.script('tesseraIndexRefresh', keys, [sessionId, deadline], { idempotent: true }));
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

function readSnapshot(sessionId: string, reply: unknown): SessionSnapshot | null {
  if (!Array.isArray(reply)) return null;
  return decodeSnapshot(sessionId, reply as [FieldList, FieldList, FieldList, FieldList, FieldList]);
}

/** The session as `create` stored it (as `newStoredSession`): the first device, every other part empty. */
function createdView({ meta, deviceId, device }: NewSession, hlc: Hlc): LoadedSession {
  const devices = { devices: { [deviceId]: device } };
  return {
    meta: { ...meta, t: meta.t !== undefined && meta.t > hlc ? meta.t : hlc },
    devices,
    versions: { cart: EMPTY_VERSION, prefs: EMPTY_VERSION, history: EMPTY_VERSION, devices: partVersion('devices', devices) },
  };
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
      return [];
    case 'session.end':
      return [op.reason ?? ''];
    case 'prefs.patch':
      return Object.entries(op.patch).flatMap(([key, value]) => [key, JSON.stringify(value)]);
    case 'history.add':
      return [op.productId, String(op.viewedAt)];
    case 'device.add':
      // The new device is built here, as applyOperation builds it; the script checks the limit, stamps and joins it.
      return [op.deviceId, encodeDevice(newDevice(op.label, op.hash, now, hlc, op.auth)), op.atLimit ?? 'refuse'];
    case 'device.rotate':
      return [op.deviceId, op.hash, String(op.graceMs), op.reauth === undefined ? '' : '1', op.reauth?.authLevel ?? ''];
    case 'device.revoke':
      return [op.deviceId, op.reason ?? ''];
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

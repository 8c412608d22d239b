/**
 * The embedded engine: SQLite through better-sqlite3, WAL mode, one file.
 *
 * better-sqlite3 is synchronous, so every operation runs start to finish
 * without yielding to the event loop: within one process nothing interleaves,
 * and `BEGIN IMMEDIATE` serialises writers of other processes on the same file.
 * Every change is written with its feed entry in one transaction; the rules
 * are those of `transition.ts`, which this engine runs as they are.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { Operation } from '../../domain/operations.js';
import type { Seen } from '../../domain/devices.js';
import { maxHlc, type Hlc } from '../../domain/hlc.js';
import { EMPTY_PARTS, type Change, type ChangeRecord, type DataPart } from '../../domain/parts.js';
import { forgetAt, isSessionLive, type SessionMeta } from '../../domain/session.js';
import { sessionDigest } from '../../domain/versions.js';
import { migrate, type SessionRow } from './schema.js';
import { SqliteFeed } from './sqlite-feed.js';
import {
  checkCredential,
  creationRecords,
  EMPTY_VERSIONS,
  erasedSession,
  loadedView,
  mergeTransition,
  newStoredSession,
  precedes,
  redirectRecords,
  snapshotRecords,
  touchTransition,
  transition,
  type StoredSession,
} from '../transition.js';
import {
  StoreUnavailableError,
  deviceAddOf,
  type ApplyOptions,
  type ApplyResult,
  type Caller,
  type LoadOptions,
  type CreateResult,
  type LoadedSession,
  type MergeReport,
  type NewSession,
  type ScannedSession,
  type SessionStore,
  type StoreSettings,
} from '../session-store.js';

export interface SqliteStoreOptions extends StoreSettings {
  /** Database file; `:memory:` for a throwaway store. @default "./data/tessera.db" */
  readonly path: string;
}

const OPTIONAL_PARTS = ['cart', 'prefs', 'history'] as const;
/** Records kept per session while its metadata has not arrived; the oldest go first. */
export const PARKED_PER_SESSION = 1000;
/** A merged-away session names the one it went into; chains are followed this far. */
const REDIRECT_HOPS = 4;
/** Sessions whose digests are read in one synchronous step. */
const DIGEST_BATCH = 500;

export class SqliteStore implements SessionStore {
  readonly engine = 'sqlite' as const;
  readonly feed: SqliteFeed | null;
  readonly #db: Database.Database;
  readonly #settings: StoreSettings;
  readonly #selects = new Map<string, Database.Statement<[string], SessionRow>>();
  readonly #insert: Database.Statement;
  readonly #update: Database.Statement;
  readonly #userSession: Database.Statement<[string], { session_id: string; created_at: number }>;
  readonly #indexUser: Database.Statement<[string, string, number]>;
  readonly #park: Database.Statement<[string, string, number]>;
  readonly #parked: Database.Statement<[string, number], { record: string }>;
  readonly #unpark: Database.Statement<[string]>;
  readonly #trimParked: Database.Statement<[string, string, number]>;
  readonly #sessionsOfUser: Database.Statement<[string], { id: string }>;
  readonly #forgetUser: Database.Statement<[string]>;

  constructor(options: SqliteStoreOptions) {
    this.#settings = options;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    // Zero freed and unused page space: removed sessions leave no token hashes behind, pages
    // never carry stray heap bytes (which may once have held request headers) to disk, and an
    // erased user leaves no trace in the file. ON, not FAST: FAST leaves deleted rows on
    // freelist pages (a trimmed feed's pages, above all), which test/store/erasure.test.ts finds.
    this.#db.pragma('secure_delete = ON');
    migrate(this.#db, options.horizonMs);
    this.#insert = this.#db.prepare(
      `INSERT INTO sessions (id, user_id, forget_at, meta, devices, devices_v, cart, cart_v, prefs, prefs_v, history, history_v)
       VALUES (@id, @user_id, @forget_at, @meta, @devices, @devices_v, @cart, @cart_v, @prefs, @prefs_v, @history, @history_v)`,
    );
    this.#update = this.#db.prepare(
      `UPDATE sessions SET forget_at = @forget_at, meta = @meta, devices = @devices, devices_v = @devices_v,
         cart = @cart, cart_v = @cart_v, prefs = @prefs, prefs_v = @prefs_v, history = @history, history_v = @history_v
       WHERE id = @id`,
    );
    this.#userSession = this.#db.prepare('SELECT session_id, created_at FROM users WHERE user_id = ?');
    this.#indexUser = this.#db.prepare('INSERT OR REPLACE INTO users (user_id, session_id, created_at) VALUES (?, ?, ?)');
    this.#park = this.#db.prepare('INSERT INTO parked (session_id, record, forget_at) VALUES (?, ?, ?)');
    this.#parked = this.#db.prepare('SELECT record FROM parked WHERE session_id = ? AND forget_at > ? ORDER BY seq');
    this.#unpark = this.#db.prepare('DELETE FROM parked WHERE session_id = ?');
    this.#trimParked = this.#db.prepare(
      'DELETE FROM parked WHERE session_id = ? AND seq NOT IN (SELECT seq FROM parked WHERE session_id = ? ORDER BY seq DESC LIMIT ?)',
    );
    this.#sessionsOfUser = this.#db.prepare('SELECT id FROM sessions WHERE user_id = ? ORDER BY id');
    this.#forgetUser = this.#db.prepare('UPDATE sessions SET user_id = NULL WHERE id = ?');
    this.feed = options.feedConsumers.length > 0 ? new SqliteFeed(this.#db, options.feedConsumers) : null;
  }

  async load(sessionId: string, parts: readonly DataPart[], now: number, { known = {}, credential }: LoadOptions = {}): Promise<LoadedSession | null> {
    return this.#guard(() => {
      const wanted = OPTIONAL_PARTS.filter((p) => parts.includes(p));
      const found = this.#resolve(sessionId, (id) => this.#select(wanted).get(id));
      if (found === null) return null;
      const { row, alias } = found;
      // Parts the caller already holds at their current version are neither decoded nor returned.
      const stale = wanted.filter((p) => known[p] !== row[`${p}_v`]);
      const stored = decodeRow(row, stale);
      if (!isSessionLive(stored.meta, now)) return null;
      const loaded: LoadedSession = alias === undefined ? loadedView(stored, stale) : { ...loadedView(stored, stale), alias };
      if (credential === undefined) return loaded;
      return { ...loaded, ...checkCredential(stored, credential, now, this.#settings) };
    });
  }

  async create(session: NewSession, { now, hlc }: { now: number; hlc: Hlc }): Promise<CreateResult> {
    return this.#write(() => {
      const { userId } = session.meta;
      if (userId !== null) {
        const existing = this.#liveUserSession(userId, now);
        if (existing !== null) {
          const op: Operation = deviceAddOf(session);
          const result = this.#applyInTransaction(existing, { kind: 'admin' }, op, { now, hlc });
          if (result.status === 'applied') return { status: 'joined', session: result.session, records: result.records, hlc: result.hlc };
          if (result.status === 'rejected') return result;
          // The indexed session vanished between the two reads: fall through and create.
        }
      }
      const stored = newStoredSession({ ...session.meta, t: hlc }, session.deviceId, session.device);
      this.#insert.run(encodeRow(stored, this.#settings.horizonMs));
      if (userId !== null) this.#indexUser.run(userId, stored.meta.id, stored.meta.createdAt);
      const records = creationRecords(stored, { hlc, origin: this.#settings.origin });
      this.#append(records);
      return { status: 'created', session: loadedView(stored, []), records, hlc };
    });
  }

  async apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult> {
    return this.#write(() => this.#applyInTransaction(sessionId, caller, op, options));
  }

  async merge(records: readonly ChangeRecord[], now: number): Promise<MergeReport[]> {
    const bySession = new Map<string, ChangeRecord[]>();
    for (const record of records) {
      const list = bySession.get(record.sessionId);
      if (list === undefined) bySession.set(record.sessionId, [record]);
      else list.push(record);
    }
    return this.#write(() => {
      const reports: MergeReport[] = [];
      for (const [sessionId, sessionRecords] of bySession) {
        const local = sessionRecords.filter((r) => r.origin === this.#settings.origin);
        if (local.length > 0) this.#appendGrouped(local);
        reports.push(this.#mergeSession(sessionId, sessionRecords, now, REDIRECT_HOPS));
      }
      return reports;
    });
  }

  async touch(sessionId: string, deviceId: string, now: number, hlc: Hlc, seen?: Seen): Promise<void> {
    this.#write(() => {
      const found = this.#resolve(sessionId, (id) => this.#select(OPTIONAL_PARTS).get(id));
      if (found === null) return;
      const touched = touchTransition(decodeRow(found.row), deviceId, now, hlc, this.#settings, seen);
      if (touched === null) return;
      this.#update.run(encodeRow(touched.next, this.#settings.horizonMs));
      this.#append(touched.records);
    });
  }

  async findUserSession(userId: string, now: number): Promise<string | null> {
    return this.#guard(() => this.#liveUserSession(userId, now));
  }

  async userSessions(userId: string): Promise<string[]> {
    return this.#guard(() => this.#sessionsOfUser.all(userId).map((row) => row.id));
  }

  async eraseUser(userId: string, now: number, hlc: Hlc): Promise<number> {
    return this.#write(() => {
      const ids = this.#sessionsOfUser.all(userId).map((row) => row.id);
      for (const id of ids) {
        let stored = this.#read(id)!;
        if (stored.meta.mergedInto === undefined && isSessionLive(stored.meta, now)) {
          const ended = transition(stored, { kind: 'admin' }, { kind: 'session.end', reason: 'erased' }, { now, hlc }, this.#settings);
          if ('next' in ended) {
            this.#append(ended.result.records);
            stored = ended.next;
          }
        }
        const erased = erasedSession(stored, now);
        const meta = { ...erased.meta, t: maxHlc(erased.meta.t, hlc)! };
        this.#update.run(encodeRow({ ...erased, meta }, this.#settings.horizonMs));
        // The tombstone travels: every region erases its copy, and keeps it erased whatever arrives late.
        this.#append([{ sessionId: id, part: 'meta', state: meta, hlc, origin: this.#settings.origin }]);
        this.#forgetUser.run(id);
        this.#unpark.run(id);
      }
      this.#db.prepare('DELETE FROM users WHERE user_id = ?').run(userId);
      return ids.length;
    });
  }

  async snapshot(sessionId: string): Promise<StoredSession | null> {
    return this.#guard(() => this.#read(sessionId));
  }

  async scan(cursor: string, limit: number): Promise<{ sessions: ScannedSession[]; next: string | null }> {
    return this.#guard(() => {
      const rows = this.#db
        .prepare<[string, number], DigestColumns>(
          'SELECT id, meta, cart_v, prefs_v, history_v, devices_v FROM sessions WHERE id > ? ORDER BY id LIMIT ?',
        )
        .all(cursor, limit);
      const sessions = rows.map((row) => ({ id: row.id, digest: rowDigest(row) }));
      return { sessions, next: rows.length < limit ? null : rows.at(-1)!.id };
    });
  }

  /** `DIGEST_BATCH` rows at a time, the event loop free in between: a repair's list of thousands does not hold up requests. */
  async digests(sessionIds: readonly string[]): Promise<(string | null)[]> {
    const digests: (string | null)[] = [];
    for (let start = 0; start < sessionIds.length; start += DIGEST_BATCH) {
      if (start > 0) await setImmediate();
      digests.push(
        ...this.#guard(() => {
          const select = this.#db.prepare<[string], DigestColumns>('SELECT id, meta, cart_v, prefs_v, history_v, devices_v FROM sessions WHERE id = ?');
          return sessionIds.slice(start, start + DIGEST_BATCH).map((id) => {
            const row = select.get(id);
            return row === undefined ? null : rowDigest(row);
          });
        }),
      );
    }
    return digests;
  }

  async readMark(name: string): Promise<string | null> {
    return this.#guard(() => this.#db.prepare<[string], { value: string }>('SELECT value FROM marks WHERE name = ?').get(name)?.value ?? null);
  }

  async writeMark(name: string, value: string): Promise<void> {
    this.#guard(() => this.#db.prepare('INSERT OR REPLACE INTO marks (name, value) VALUES (?, ?)').run(name, value));
  }

  async lease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const held = this.#db.prepare<[string], { holder: string; until: number }>('SELECT holder, until FROM leases WHERE name = ?').get(name);
          if (held !== undefined && held.holder !== holder && held.until > now) return false;
          this.#db.prepare('INSERT OR REPLACE INTO leases (name, holder, until) VALUES (?, ?, ?)').run(name, holder, now + ttlMs);
          return true;
        })
        .immediate(),
    );
  }

  async release(name: string, holder: string): Promise<void> {
    this.#guard(() => this.#db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder));
  }

  async sweep(now: number, limit: number): Promise<number> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          this.#db.prepare('DELETE FROM parked WHERE forget_at <= ?').run(now);
          const ids = this.#db
            .prepare<[number, number], { id: string }>('SELECT id FROM sessions WHERE forget_at <= ? LIMIT ?')
            .all(now, limit)
            .map((r) => r.id);
          if (ids.length === 0) return 0;
          const list = JSON.stringify(ids);
          this.#db.prepare('DELETE FROM users WHERE session_id IN (SELECT value FROM json_each(?))').run(list);
          return this.#db.prepare('DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))').run(list).changes;
        })
        .immediate(),
    );
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  /** A write transaction; readers of the feed are woken once it has committed. */
  #write<T>(work: () => T): T {
    const result = this.#guard(() => this.#db.transaction(work).immediate());
    this.feed?.appended();
    return result;
  }

  #applyInTransaction(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): ApplyResult {
    const found = this.#resolve(sessionId, (id) => this.#select(OPTIONAL_PARTS).get(id));
    const outcome = transition(found === null ? null : decodeRow(found.row), caller, op, options, this.#settings);
    if (!('next' in outcome)) return outcome.result;
    this.#update.run(encodeRow(outcome.next, this.#settings.horizonMs));
    this.#append(outcome.result.records);
    if (outcome.next.meta.endedAt !== undefined) this.#dropIndex(outcome.next.meta);
    return found?.alias === undefined ? outcome.result : { ...outcome.result, session: { ...outcome.result.session, alias: found.alias } };
  }

  /** Joins one session's records (see `mergeTransition`); records redirected to a session it was merged into are not appended again. */
  #mergeSession(sessionId: string, records: readonly ChangeRecord[], now: number, hops: number): MergeReport {
    const stored = this.#read(sessionId);
    const parked = stored === null ? this.#parked.all(sessionId, now).map((r) => JSON.parse(r.record) as ChangeRecord) : [];
    const outcome = mergeTransition(stored, [...parked, ...records], now, this.#settings);
    switch (outcome.kind) {
      case 'park': {
        const until = now + this.#settings.horizonMs;
        for (const record of records) this.#park.run(sessionId, JSON.stringify(record), until);
        this.#trimParked.run(sessionId, sessionId, PARKED_PER_SESSION);
        return { sessionId, outcome: 'parked', changed: [] };
      }
      case 'drop':
        this.#unpark.run(sessionId);
        return { sessionId, outcome: 'ignored', changed: [] };
      case 'redirect': {
        if (hops > 0) this.#mergeSession(outcome.into, redirectRecords(records, outcome.into), now, hops - 1);
        return { sessionId, outcome: 'redirected', changed: [], into: outcome.into };
      }
      case 'store': {
        const row = encodeRow(outcome.next, this.#settings.horizonMs);
        if (stored === null) {
          this.#insert.run(row);
          this.#unpark.run(sessionId);
        } else {
          this.#update.run(row);
        }
        const { meta } = outcome.next;
        if (meta.endedAt !== undefined) this.#dropIndex(meta);
        else if (meta.userId !== null && isSessionLive(meta, now)) this.#claimIndex(outcome.next, now);
        return outcome.report;
      }
    }
  }

  /**
   * The user index names one live session per user. When another live session
   * of the user is indexed — both regions signed the user in before either saw
   * the other's session — the one `precedes` picks stays, and the other is
   * merged into it (every region does the same, so all end alike).
   */
  #claimIndex(session: StoredSession, now: number): void {
    const { meta } = session;
    const indexed = this.#userSession.get(meta.userId!);
    if (indexed?.session_id === meta.id) return;
    const other = indexed === undefined ? null : this.#read(indexed.session_id);
    if (other === null || other.meta.mergedInto !== undefined || !isSessionLive(other.meta, now)) {
      this.#indexUser.run(meta.userId!, meta.id, meta.createdAt);
      return;
    }
    const [winner, loser] = precedes(meta, other.meta) ? [session, other] : [other, session];
    this.#indexUser.run(meta.userId!, winner.meta.id, winner.meta.createdAt);
    this.#mergeAway(loser, winner.meta.id, now);
  }

  /** Moves a session's parts into the winner and leaves it a redirect, so its devices' tokens keep working. */
  #mergeAway(loser: StoredSession, into: string, now: number): void {
    const records = redirectRecords(snapshotRecords(loser, { hlc: loser.meta.t ?? '', origin: this.#settings.origin }), into);
    this.#mergeSession(into, records, now, REDIRECT_HOPS);
    const redirect: StoredSession = { ...loser, ...EMPTY_PARTS, meta: { ...loser.meta, mergedInto: into }, versions: EMPTY_VERSIONS };
    this.#update.run(encodeRow(redirect, this.#settings.horizonMs));
  }

  #dropIndex(meta: SessionMeta): void {
    if (meta.userId === null) return;
    this.#db.prepare('DELETE FROM users WHERE user_id = ? AND session_id = ?').run(meta.userId, meta.id);
  }

  /** The row of a session, or of the session it was merged into (with the id asked for as `alias`). */
  #resolve(sessionId: string, select: (id: string) => SessionRow | undefined): { row: SessionRow; alias?: LoadedSession['alias'] } | null {
    let row = select(sessionId);
    let alias: LoadedSession['alias'];
    for (let hop = 0; row !== undefined && hop < REDIRECT_HOPS; hop += 1) {
      const meta = JSON.parse(row.meta) as SessionMeta;
      if (meta.mergedInto === undefined) break;
      alias ??= { id: sessionId, csrfSecret: meta.csrfSecret };
      row = select(meta.mergedInto);
    }
    if (row === undefined) return null;
    return alias === undefined ? { row } : { row, alias };
  }

  /** Appends a change made here to the feed. */
  #append(records: readonly ChangeRecord[]): void {
    const first = records[0];
    if (this.feed === null || first === undefined) return;
    const change: Change = { sessionId: first.sessionId, hlc: first.hlc, origin: this.#settings.origin, records };
    this.feed.append(change);
  }

  /** Local records handed to `merge` (a guest's cart at sign-in): one change per stamp. */
  #appendGrouped(records: readonly ChangeRecord[]): void {
    const byStamp = new Map<string, ChangeRecord[]>();
    for (const record of records) byStamp.set(record.hlc, [...(byStamp.get(record.hlc) ?? []), record]);
    for (const group of byStamp.values()) this.#append(group);
  }

  #liveUserSession(userId: string, now: number): string | null {
    const indexed = this.#userSession.get(userId);
    if (indexed === undefined) return null;
    const stored = this.#read(indexed.session_id);
    return stored !== null && stored.meta.mergedInto === undefined && isSessionLive(stored.meta, now) ? indexed.session_id : null;
  }

  #read(sessionId: string): StoredSession | null {
    const row = this.#select(OPTIONAL_PARTS).get(sessionId);
    return row === undefined ? null : decodeRow(row);
  }

  #select(parts: readonly (typeof OPTIONAL_PARTS)[number][]): Database.Statement<[string], SessionRow> {
    const key = parts.join(',');
    let statement = this.#selects.get(key);
    if (statement === undefined) {
      const columns = ['id', 'user_id', 'forget_at', 'meta', 'devices', 'devices_v', 'cart_v', 'prefs_v', 'history_v', ...parts];
      statement = this.#db.prepare<[string], SessionRow>(`SELECT ${columns.join(', ')} FROM sessions WHERE id = ?`);
      this.#selects.set(key, statement);
    }
    return statement;
  }

  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw new StoreUnavailableError('sqlite', { cause: error });
    }
  }
}

/** The columns a session's digest is made of. */
type DigestColumns = Pick<SessionRow, 'id' | 'meta' | 'cart_v' | 'prefs_v' | 'history_v' | 'devices_v'>;

function rowDigest(row: DigestColumns): string {
  return sessionDigest(JSON.parse(row.meta) as SessionMeta, { cart: row.cart_v, prefs: row.prefs_v, history: row.history_v, devices: row.devices_v });
}

function decodeRow(row: SessionRow, parts: readonly string[] = OPTIONAL_PARTS): StoredSession {
  const decode = <T>(part: 'cart' | 'prefs' | 'history', empty: T): T => {
    const text = row[part];
    return text === undefined || !parts.includes(part) ? empty : (JSON.parse(text) as T);
  };
  return {
    meta: JSON.parse(row.meta) as SessionMeta,
    devices: JSON.parse(row.devices) as StoredSession['devices'],
    cart: decode('cart', EMPTY_PARTS.cart),
    prefs: decode('prefs', EMPTY_PARTS.prefs),
    history: decode('history', EMPTY_PARTS.history),
    versions: { devices: row.devices_v, cart: row.cart_v, prefs: row.prefs_v, history: row.history_v },
  };
}

function encodeRow(stored: StoredSession, horizonMs: number): SessionRow {
  const { meta } = stored;
  return {
    id: meta.id,
    user_id: meta.userId,
    forget_at: forgetAt(meta, horizonMs),
    meta: JSON.stringify(meta),
    devices: JSON.stringify(stored.devices),
    devices_v: stored.versions.devices,
    cart: JSON.stringify(stored.cart),
    cart_v: stored.versions.cart,
    prefs: JSON.stringify(stored.prefs),
    prefs_v: stored.versions.prefs,
    history: JSON.stringify(stored.history),
    history_v: stored.versions.history,
  };
}

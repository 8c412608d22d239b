/**
 * The embedded engine: SQLite through better-sqlite3, WAL mode, one file.
 *
 * better-sqlite3 is synchronous, so every operation runs start to finish
 * without yielding to the event loop: within one process nothing interleaves,
 * and `BEGIN IMMEDIATE` serialises writers of other processes on the same file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EMPTY_PARTS, type ChangeRecord, type DataPart } from '../../domain/parts.js';
import { expiresAt, isSessionLive, type SessionMeta } from '../../domain/session.js';
import type { Operation } from '../../domain/operations.js';
import type { DeviceLabel } from '../../domain/devices.js';
import { ownValue } from '../../domain/own.js';
import { matchToken } from '../../tokens/token-match.js';
import { SCHEMA, SCHEMA_VERSION, type SessionRow } from './schema.js';
import {
  formatVersion,
  INITIAL_VERSIONS,
  loadedView,
  mergeIntoStored,
  slide,
  transition,
  type StoredSession,
} from '../transition.js';
import {
  StoreUnavailableError,
  type ApplyOptions,
  type ApplyResult,
  type Caller,
  type LoadOptions,
  type CreateResult,
  type LoadedSession,
  type NewSession,
  type SessionStore,
  type StoreSettings,
} from '../session-store.js';

export interface SqliteStoreOptions extends StoreSettings {
  /** Database file; `:memory:` for a throwaway store. @default "./data/tessera.db" */
  readonly path: string;
}

const OPTIONAL_PARTS = ['cart', 'prefs', 'history'] as const;

export class SqliteStore implements SessionStore {
  readonly engine = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #settings: StoreSettings;
  readonly #selects = new Map<string, Database.Statement<[string], SessionRow>>();
  readonly #insert: Database.Statement;
  readonly #update: Database.Statement;
  readonly #userSession: Database.Statement<[string], { session_id: string }>;
  readonly #indexUser: Database.Statement;

  constructor(options: SqliteStoreOptions) {
    this.#settings = options;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    // Zero freed and unused page space: removed sessions leave no token hashes behind, and pages
    // never carry stray heap bytes (which may once have held request headers) to disk.
    this.#db.pragma('secure_delete = FAST');
    this.#db.exec(SCHEMA);
    this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.#insert = this.#db.prepare(
      `INSERT INTO sessions (id, user_id, expires_at, meta, devices, devices_v, cart, cart_v, prefs, prefs_v, history, history_v)
       VALUES (@id, @user_id, @expires_at, @meta, @devices, @devices_v, @cart, @cart_v, @prefs, @prefs_v, @history, @history_v)`,
    );
    this.#update = this.#db.prepare(
      `UPDATE sessions SET expires_at = @expires_at, meta = @meta, devices = @devices, devices_v = @devices_v,
         cart = @cart, cart_v = @cart_v, prefs = @prefs, prefs_v = @prefs_v, history = @history, history_v = @history_v
       WHERE id = @id`,
    );
    this.#userSession = this.#db.prepare('SELECT session_id FROM users WHERE user_id = ?');
    this.#indexUser = this.#db.prepare('INSERT OR REPLACE INTO users (user_id, session_id) VALUES (?, ?)');
  }

  async load(sessionId: string, parts: readonly DataPart[], now: number, { known = {}, credential }: LoadOptions = {}): Promise<LoadedSession | null> {
    return this.#guard(() => {
      const wanted = OPTIONAL_PARTS.filter((p) => parts.includes(p));
      const row = this.#select(wanted).get(sessionId);
      if (row === undefined) return null;
      // Parts the caller already holds at their current version are neither decoded nor returned.
      const stale = wanted.filter((p) => known[p] !== formatVersion(row[`${p}_v`]));
      const stored = decodeRow(row, stale);
      if (!isSessionLive(stored.meta, now)) return null;
      const loaded = loadedView(stored, stale);
      if (credential === undefined) return loaded;
      return { ...loaded, credential: matchToken(ownValue(stored.devices.devices, credential.deviceId), credential.hash, now) };
    });
  }

  async create(session: NewSession, { now, hlc }: { now: number; hlc: string }): Promise<CreateResult> {
    return this.#guard(() =>
      this.#db
        .transaction((): CreateResult => {
          const { userId } = session.meta;
          if (userId !== null) {
            const existing = this.#liveUserSession(userId, now);
            if (existing !== null) {
              const { label, hash } = labelOf(session);
              const op: Operation = { kind: 'device.add', deviceId: session.deviceId, label, hash };
              const result = this.#applyInTransaction(existing, { kind: 'admin' }, op, { now, hlc });
              if (result.status === 'applied') return { status: 'joined', session: result.session };
              if (result.status === 'rejected') return result;
              // The indexed session vanished between the two reads: fall through and create.
            }
          }
          const stored: StoredSession = {
            meta: session.meta,
            ...EMPTY_PARTS,
            devices: { devices: { [session.deviceId]: session.device } },
            versions: { ...INITIAL_VERSIONS, devices: 1 },
          };
          this.#insert.run(encodeRow(stored));
          if (userId !== null) this.#indexUser.run(userId, session.meta.id);
          return { status: 'created', session: loadedView(stored, []) };
        })
        .immediate(),
    );
  }

  async apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult> {
    return this.#guard(() =>
      this.#db.transaction(() => this.#applyInTransaction(sessionId, caller, op, options)).immediate(),
    );
  }

  async merge(records: readonly ChangeRecord[], now: number): Promise<void> {
    const bySession = new Map<string, ChangeRecord[]>();
    for (const record of records) bySession.set(record.sessionId, [...(bySession.get(record.sessionId) ?? []), record]);
    this.#guard(() =>
      this.#db
        .transaction(() => {
          for (const [sessionId, sessionRecords] of bySession) this.#mergeInTransaction(sessionId, sessionRecords, now);
        })
        .immediate(),
    );
  }

  async touch(sessionId: string, deviceId: string, now: number): Promise<void> {
    this.#guard(() =>
      this.#db
        .transaction(() => {
          const stored = this.#read(sessionId);
          if (stored === null || !isSessionLive(stored.meta, now)) return;
          const device = ownValue(stored.devices.devices, deviceId);
          const devices = device
            ? { devices: { ...stored.devices.devices, [deviceId]: { ...device, lastActiveAt: Math.max(device.lastActiveAt, now) } } }
            : stored.devices;
          this.#update.run(encodeRow({ ...stored, devices, meta: slide(stored.meta, now, this.#settings.idleTimeoutMs) }));
        })
        .immediate(),
    );
  }

  async findUserSession(userId: string, now: number): Promise<string | null> {
    return this.#guard(() => this.#liveUserSession(userId, now));
  }

  async sweep(now: number, limit: number): Promise<number> {
    return this.#guard(() =>
      this.#db
        .transaction(() => {
          const ids = this.#db
            .prepare<[number, number], { id: string }>('SELECT id FROM sessions WHERE expires_at <= ? LIMIT ?')
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

  #applyInTransaction(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): ApplyResult {
    const outcome = transition(this.#read(sessionId), caller, op, options, this.#settings);
    if ('next' in outcome) this.#update.run(encodeRow(outcome.next));
    return outcome.result;
  }

  #mergeInTransaction(sessionId: string, records: readonly ChangeRecord[], now: number): void {
    const stored = this.#read(sessionId);
    if (stored === null) {
      // Without its metadata a session cannot be created from a record; replication sends meta first.
      const meta = records.find((r) => r.part === 'meta')?.state as SessionMeta | undefined;
      if (meta === undefined || !isSessionLive(meta, now)) return;
      const fresh: StoredSession = { meta, ...EMPTY_PARTS, versions: INITIAL_VERSIONS };
      this.#insert.run(encodeRow(mergeIntoStored(fresh, records, this.#settings)));
      if (meta.userId !== null) this.#indexUser.run(meta.userId, sessionId);
      return;
    }
    this.#update.run(encodeRow(mergeIntoStored(stored, records, this.#settings)));
  }

  #liveUserSession(userId: string, now: number): string | null {
    const indexed = this.#userSession.get(userId);
    if (indexed === undefined) return null;
    const stored = this.#read(indexed.session_id);
    return stored !== null && isSessionLive(stored.meta, now) ? indexed.session_id : null;
  }

  #read(sessionId: string): StoredSession | null {
    const row = this.#select(OPTIONAL_PARTS).get(sessionId);
    return row === undefined ? null : decodeRow(row);
  }

  #select(parts: readonly (typeof OPTIONAL_PARTS)[number][]): Database.Statement<[string], SessionRow> {
    const key = parts.join(',');
    let statement = this.#selects.get(key);
    if (statement === undefined) {
      const columns = ['id', 'user_id', 'expires_at', 'meta', 'devices', 'devices_v', 'cart_v', 'prefs_v', 'history_v', ...parts];
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

function labelOf({ device }: NewSession): { label: DeviceLabel; hash: string } {
  const { name, kind, userAgent, ip, hash } = device;
  const label: DeviceLabel = Object.fromEntries(
    Object.entries({ name, kind, userAgent, ip }).filter(([, v]) => v !== undefined),
  );
  return { label, hash };
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

function encodeRow(stored: StoredSession): SessionRow {
  const { meta } = stored;
  return {
    id: meta.id,
    user_id: meta.userId,
    expires_at: meta.endedAt ?? expiresAt(meta),
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

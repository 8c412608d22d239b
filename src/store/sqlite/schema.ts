/**
 * The embedded engine's schema: one row per session, one JSON column and one
 * version per part, so a read selects only the parts it needs and a write is
 * one row update inside one transaction; beside it the user index, the change
 * feed with its consumers' positions, records parked until their session's
 * metadata arrives, replication's marks and leases.
 *
 * Version 2 (this one) replaced per-part counters by digests (`domain/versions.ts`),
 * `expires_at` by `forget_at` (when the sweeper may remove the row: tombstones
 * outlive replication), and added the feed and parking. `migrate` brings a
 * version 1 file forward in one transaction.
 */
import type Database from 'better-sqlite3';
import { partVersion } from '../../domain/versions.js';
import type { DataPart, PartStates } from '../../domain/parts.js';
import { forgetAt, type SessionMeta } from '../../domain/session.js';

export const SCHEMA_VERSION = 2;

const TABLES = `
CREATE TABLE IF NOT EXISTS sessions (
  id          TEXT PRIMARY KEY,
  user_id     TEXT,
  -- when the sweeper may remove the row: its deadline (absolute once ended) plus the replication horizon
  forget_at   INTEGER NOT NULL,
  meta        TEXT NOT NULL,
  devices     TEXT NOT NULL, devices_v TEXT NOT NULL,
  cart        TEXT NOT NULL, cart_v    TEXT NOT NULL,
  prefs       TEXT NOT NULL, prefs_v   TEXT NOT NULL,
  history     TEXT NOT NULL, history_v TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_forget ON sessions (forget_at);
-- every session of a user, ended and expired ones included (privacy export and erasure)
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id) WHERE user_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (
  user_id     TEXT PRIMARY KEY,
  session_id  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS users_by_session ON users (session_id);
CREATE TABLE IF NOT EXISTS feed (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  change      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_positions (
  consumer    TEXT PRIMARY KEY,
  position    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_leases (
  consumer    TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  until       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parked (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id  TEXT NOT NULL,
  record      TEXT NOT NULL,
  forget_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS parked_by_session ON parked (session_id);
CREATE INDEX IF NOT EXISTS parked_by_forget ON parked (forget_at);
CREATE TABLE IF NOT EXISTS marks (
  name        TEXT PRIMARY KEY,
  value       TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  until       INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** A session row as stored: JSON text per part. */
export interface SessionRow {
  readonly id: string;
  readonly user_id: string | null;
  readonly forget_at: number;
  readonly meta: string;
  readonly devices: string;
  readonly devices_v: string;
  readonly cart?: string;
  readonly cart_v: string;
  readonly prefs?: string;
  readonly prefs_v: string;
  readonly history?: string;
  readonly history_v: string;
}

/** Creates the schema, or brings an older file forward. */
export function migrate(db: Database.Database, horizonMs: number): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`the database was written by a newer Tessera (schema ${version}; this one knows ${SCHEMA_VERSION})`);
  }
  db.transaction(() => {
    if (version === 1) fromVersion1(db, horizonMs);
    db.exec(TABLES);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

interface Version1Row {
  id: string;
  user_id: string | null;
  meta: string;
  devices: string;
  cart: string;
  prefs: string;
  history: string;
}

/** Version 1 kept counters as versions, `expires_at`, and a user index without creation times. */
function fromVersion1(db: Database.Database, horizonMs: number): void {
  db.exec('ALTER TABLE sessions RENAME TO sessions_v1; ALTER TABLE users RENAME TO users_v1;');
  db.exec('DROP INDEX IF EXISTS sessions_by_expiry; DROP INDEX IF EXISTS users_by_session;');
  db.exec(TABLES);
  const insert = db.prepare(
    `INSERT INTO sessions (id, user_id, forget_at, meta, devices, devices_v, cart, cart_v, prefs, prefs_v, history, history_v)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const version = <P extends DataPart>(part: P, text: string): string => partVersion(part, JSON.parse(text) as PartStates[P]);
  // In pages (a statement cannot be iterated while another writes on the same connection).
  const page = db.prepare<[string], Version1Row>('SELECT id, user_id, meta, devices, cart, prefs, history FROM sessions_v1 WHERE id > ? ORDER BY id LIMIT 1000');
  for (let rows = page.all(''); rows.length > 0; rows = page.all(rows.at(-1)!.id)) {
    for (const row of rows) {
      const meta = JSON.parse(row.meta) as SessionMeta;
      insert.run(
        row.id, row.user_id, forgetAt(meta, horizonMs), row.meta,
        row.devices, version('devices', row.devices), row.cart, version('cart', row.cart),
        row.prefs, version('prefs', row.prefs), row.history, version('history', row.history),
      );
    }
  }
  db.exec(`INSERT INTO users (user_id, session_id, created_at)
           SELECT u.user_id, u.session_id, COALESCE(json_extract(s.meta, '$.createdAt'), 0)
           FROM users_v1 u LEFT JOIN sessions s ON s.id = u.session_id`);
  db.exec('DROP TABLE sessions_v1; DROP TABLE users_v1;');
}

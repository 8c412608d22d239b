/**
 * The embedded engine's schema: one row per session, one JSON column and one
 * version counter per part, so a read selects only the parts it needs and a
 * write is one row update inside one transaction.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id          TEXT PRIMARY KEY,
  user_id     TEXT,
  -- min(idle deadline, absolute deadline), or the end time: what the sweeper reads
  expires_at  INTEGER NOT NULL,
  meta        TEXT NOT NULL,
  devices     TEXT NOT NULL, devices_v INTEGER NOT NULL,
  cart        TEXT NOT NULL, cart_v    INTEGER NOT NULL,
  prefs       TEXT NOT NULL, prefs_v   INTEGER NOT NULL,
  history     TEXT NOT NULL, history_v INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS users (
  user_id     TEXT PRIMARY KEY,
  session_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS users_by_session ON users (session_id);
`;

/** A row as stored: JSON text per part. */
export interface SessionRow {
  readonly id: string;
  readonly user_id: string | null;
  readonly expires_at: number;
  readonly meta: string;
  readonly devices: string;
  readonly devices_v: number;
  readonly cart?: string;
  readonly cart_v: number;
  readonly prefs?: string;
  readonly prefs_v: number;
  readonly history?: string;
  readonly history_v: number;
}

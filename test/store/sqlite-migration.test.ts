/**
 * The embedded engine opens a file written by the previous release (schema 1:
 * counters as versions, `expires_at`, a user index without creation times)
 * and brings it forward in place: every session keeps its data and its
 * tokens, versions become digests, the user index still finds the user.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { CartState } from '../../src/domain/cart.js';
import { newDevice } from '../../src/domain/devices.js';
import { partVersion } from '../../src/domain/versions.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { IDLE_MS, settings, stamp } from './conformance/support.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The schema of release 0.1 (schema 1), as it was. */
const SCHEMA_1 = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY, user_id TEXT, expires_at INTEGER NOT NULL, meta TEXT NOT NULL,
  devices TEXT NOT NULL, devices_v INTEGER NOT NULL, cart TEXT NOT NULL, cart_v INTEGER NOT NULL,
  prefs TEXT NOT NULL, prefs_v INTEGER NOT NULL, history TEXT NOT NULL, history_v INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE users (user_id TEXT PRIMARY KEY, session_id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX users_by_session ON users (session_id);
PRAGMA user_version = 1;
`;

test('a schema 1 file is migrated in place: data, tokens and the user index carry over, versions become digests', async () => {
  const path = join(dir, 'old.db');
  const now = Date.now();
  const device = newDevice({ name: 'laptop' }, 'hash-1', now, stamp());
  const meta = {
    id: 'old-session-0000000000', userId: 'old-user', createdAt: now, lastActiveAt: now,
    idleExpiresAt: now + IDLE_MS, absoluteExpiresAt: now + 10 * IDLE_MS, csrfSecret: 'secret',
  };
  const cart: CartState = { lines: { A: { n: { local: [2, 0] }, at: now } } };
  const old = new Database(path);
  old.exec(SCHEMA_1);
  old.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 3, ?, 7, ?, 0, ?, 0)').run(
    meta.id, meta.userId, now + IDLE_MS, JSON.stringify(meta), JSON.stringify({ devices: { d1: device } }),
    JSON.stringify(cart), JSON.stringify({ keys: {} }), JSON.stringify({ items: {} }),
  );
  old.prepare('INSERT INTO users VALUES (?, ?)').run(meta.userId, meta.id);
  old.close();

  const store = new SqliteStore({ ...settings(), path });
  try {
    const loaded = await store.load(meta.id, ['cart'], now + 1, { credential: { deviceId: 'd1', hash: 'hash-1' } });
    assert.equal(loaded?.credential, 'current', 'the token still works');
    assert.deepEqual(loaded.cart, cart);
    assert.equal(loaded.versions.cart, partVersion('cart', cart), 'the version is the digest of the cart');
    assert.equal(loaded.versions.devices, partVersion('devices', { devices: { d1: device } }));
    assert.equal(await store.findUserSession('old-user', now + 1), meta.id);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    assert.deepEqual(db.prepare('SELECT created_at FROM users').get(), { created_at: now });
    db.close();
  } finally {
    await store.close();
  }
  // Opening it again changes nothing.
  const again = new SqliteStore({ ...settings(), path });
  try {
    assert.ok(await again.load(meta.id, [], now + 1));
  } finally {
    await again.close();
  }
});

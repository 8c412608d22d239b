/**
 * A privacy erasure leaves nothing of the user in any engine: after
 * `eraseUser` — and once the feed's consumers have acknowledged what was in
 * flight — no row, key, field or value of the SQLite file, the Redis server or
 * the Redis cluster holds the user's id, their devices' labels, addresses or
 * user agents, or their cart, preferences or history; another user's data is
 * all still there (so the scan does see what it looks for).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../support/redis-harness.js';
import type { RespReply } from '../support/resp.js';
import { applied, CONSUMER, settings, signIn, stamp } from './conformance/support.js';

/** What is personal about the erased user, each string only theirs. */
function marks(tag: string, n: number) {
  return {
    userId: `erin.${tag}@example.test`,
    deviceName: `Erins-Phone-${tag}`,
    userAgent: `MarkerAgent/${tag}`,
    ip: `198.51.100.${n}`,
    seenIp: `203.0.113.${n}`,
    sku: `SKU-${tag}`,
    pref: `nick-${tag}`,
    product: `PROD-${tag}`,
  };
}

type Marks = ReturnType<typeof marks>;

/** A user with two sessions (one ended), every part written, and activity seen from an address. */
async function populate(store: SessionStore, m: Marks): Promise<void> {
  const label = { name: m.deviceName, userAgent: m.userAgent, ip: m.ip, country: 'IS' };
  const first = await signIn(store, { userId: m.userId, label });
  await applied(store, first.id, first.caller, { kind: 'cart.add', sku: m.sku, quantity: 2, attributes: { engraving: m.pref } });
  await applied(store, first.id, first.caller, { kind: 'session.end' });
  const t0 = Date.now();
  const second = await signIn(store, { userId: m.userId, label, now: t0 });
  const other = await signIn(store, { userId: m.userId, label: { name: `${m.deviceName}-2` }, now: t0 });
  await applied(store, second.id, second.caller, { kind: 'cart.add', sku: m.sku, quantity: 1 });
  await applied(store, second.id, second.caller, { kind: 'prefs.patch', patch: { nickname: m.pref } });
  await applied(store, second.id, second.caller, { kind: 'history.add', productId: m.product, viewedAt: t0 });
  await store.touch(second.id, other.deviceId, t0 + 5, stamp(), { ip: m.seenIp, country: 'IS' });
}

async function drainFeed(store: SessionStore): Promise<void> {
  for (;;) {
    const entries = await store.feed!.read(CONSUMER, 500);
    if (entries.length === 0) return;
    await store.feed!.ack(CONSUMER, entries);
  }
}

function personal(m: Marks): string[] {
  return [m.userId, m.deviceName, m.userAgent, m.ip, m.seenIp, m.sku, m.pref, m.product];
}

/** The erasure scenario on one engine; `dump` returns everything the engine holds, as text. */
function erasureOn(name: string, open: () => Promise<SessionStore>, dump: () => Promise<string>): void {
  it(`${name}: nothing of an erased user remains, another user's data all does`, async () => {
    const store = await open();
    try {
      const erin = marks(`${name}-e7f3a`, 77);
      const olaf = marks(`${name}-o91c2`, 78);
      await populate(store, erin);
      await populate(store, olaf);
      await drainFeed(store);
      const before = await dump();
      for (const text of [...personal(erin), ...personal(olaf)]) assert.ok(before.includes(text), `the scan sees "${text}" before`);

      assert.equal(await store.eraseUser(erin.userId, Date.now(), stamp()), 2);
      // Until the feed's consumers have the erasure's own change, the end of the live session is in flight.
      await drainFeed(store);
      const afterwards = await dump();
      for (const text of personal(erin)) {
        const at = afterwards.indexOf(text);
        assert.ok(at === -1, `"${text}" is gone, but is in: …${afterwards.slice(Math.max(0, at - 200), at + 100)}…`);
      }
      for (const text of personal(olaf)) assert.ok(afterwards.includes(text), `"${text}" (another user) is still there`);
    } finally {
      await store.close();
    }
  });
}

describe('privacy erasure leaves nothing of the user in the engine', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-erasure-'));
  let server: RedisServer;
  let cluster: RedisCluster;
  before(async () => {
    [server, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
  });
  after(async () => {
    await Promise.all([server?.stop(), cluster?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const path = join(dir, 'erasure.db');
  erasureOn(
    'sqlite',
    async () => new SqliteStore({ ...settings(), path }),
    async () => {
      // Every row of every table, and the file's bytes once the log is checkpointed into it.
      const db = new Database(path);
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
        const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
        const rows = tables.map(({ name }) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()));
        const files = [path, `${path}-wal`].filter(existsSync).map((file) => readFileSync(file).toString('latin1'));
        return [...rows, ...files].join('\n');
      } finally {
        db.close();
      }
    },
  );

  erasureOn(
    'redis',
    async () => RedisStore.connect({ ...settings(), engine: 'redis', url: server.url }),
    async () => dumpRedis((...args) => server.command(...args)),
  );

  erasureOn(
    'redis-cluster',
    async () => RedisStore.connect({ ...settings(), engine: 'redis-cluster', nodes: cluster.nodes }),
    async () => {
      const masters = (await cluster.topology()).filter((node) => node.role === 'master' && !node.failed);
      const dumps = await Promise.all(masters.map((node) => dumpRedis((...args) => cluster.command(node.port, ...args))));
      return dumps.join('\n');
    },
  );
});

/** Every key of a Redis node, with its whole value, as text. */
async function dumpRedis(command: (...args: (string | number)[]) => Promise<RespReply>): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = (await command('SCAN', cursor, 'COUNT', 1000)) as [string, string[]];
    cursor = next;
    for (const key of keys) {
      const type = String(await command('TYPE', key));
      const value =
        type === 'string' ? await command('GET', key)
        : type === 'hash' ? await command('HGETALL', key)
        : type === 'set' ? await command('SMEMBERS', key)
        : type === 'zset' ? await command('ZRANGE', key, 0, -1, 'WITHSCORES')
        : type === 'list' ? await command('LRANGE', key, 0, -1)
        : type === 'stream' ? await command('XRANGE', key, '-', '+')
        : `<${type}>`;
      out.push(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  // cjson writes "/" as "\/": compare without escapes.
  return out.join('\n').replaceAll('\\', '');
}

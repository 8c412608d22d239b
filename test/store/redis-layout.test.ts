/**
 * Redis engine, what the conformance suite cannot see: the key layout, the
 * deadlines Redis holds for every key, and that nothing of an expired or
 * ended session is left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { INDEX_REFRESH_LUA } from '../../src/store/redis/lua/index.lua.js';
import { sessionDigest } from '../../src/domain/versions.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { functionLibrary, LIBRARY, TESSERA_FUNCTIONS } from '../../src/store/redis/scripts.js';
import type { SessionStore, StoreSettings } from '../../src/store/session-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { admin, applied, HORIZON_MS, settings, signIn, stamp } from './conformance/support.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

async function connect(idleTimeoutMs: number, overrides: Partial<StoreSettings> = {}): Promise<SessionStore> {
  return RedisStore.connect({ ...settings({}, idleTimeoutMs, overrides), engine: 'redis', url: server.url });
}

async function keysMatching(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = (await server.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [string, string[]];
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

const expireTime = async (key: string): Promise<number> => Number(await server.command('PEXPIRETIME', key));

/** A user's session with every part written and two devices. */
async function fullSession(store: SessionStore, userId: string, idleMs?: number) {
  const first = await signIn(store, { userId, ...(idleMs === undefined ? {} : { idleMs }) });
  await signIn(store, { userId });
  await applied(store, first.id, first.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
  await applied(store, first.id, first.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } });
  await applied(store, first.id, first.caller, { kind: 'history.add', productId: 'p1', viewedAt: Date.now() });
  return first;
}

describe('Redis key layout', { timeout: 60_000 }, () => {
  it('every key of a session carries its hash tag and one shared deadline, the replication horizon past its own; the user index carries the same', async () => {
    const store = await connect(60_000);
    try {
      const userId = `layout-${Math.random()}`;
      const s = await fullSession(store, userId);
      const keys = await keysMatching(`*{${s.id}}*`);
      assert.deepEqual(keys, ['c', 'd', 'h', 'm', 'p'].map((suffix) => `ts:{${s.id}}:${suffix}`));
      const indexKey = `ts:u:{${userId}}`;
      assert.equal(await server.command('GET', indexKey), `${s.meta.createdAt}:${s.id}`);
      const deadlines = await Promise.all([...keys, indexKey].map(expireTime));
      const loaded = await store.load(s.id, [], Date.now());
      assert.ok(loaded);
      for (const deadline of deadlines) {
        assert.equal(deadline, deadlines[0]);
        assert.ok(deadline >= loaded.meta.idleExpiresAt + HORIZON_MS, 'keys live at least until the idle deadline plus the horizon');
        assert.ok(deadline <= loaded.meta.idleExpiresAt + HORIZON_MS + 600, 'and at most one expiry step (idle/100) longer');
      }
    } finally {
      await store.close();
    }
  });

  it('a session whose metadata predates stored versions has the digest its parts give, read without its parts', async () => {
    const store = await connect(60_000);
    try {
      const s = await fullSession(store, `digest-${Math.random()}`);
      const [digest] = await store.digests([s.id]);
      const snapshot = await store.snapshot(s.id);
      assert.equal(digest, sessionDigest(snapshot!.meta, snapshot!.versions));
      // How a session stored before versions were kept looks: no version field in its metadata.
      assert.equal(await server.command('HDEL', `ts:{${s.id}}:m`, 'dc', 'dp', 'dh', 'dd'), 4);
      assert.deepEqual(await store.digests([s.id]), [digest], 'the versions are computed from the parts, as a snapshot computes them');
    } finally {
      await store.close();
    }
  });

  it('a part written long ago moves with the session: after a touch every key shares the new deadline', async () => {
    const store = await connect(60_000);
    try {
      const t0 = Date.now();
      const s = await signIn(store, { userId: `moved-${Math.random()}`, now: t0 });
      // Each part written once, history first, so that no write leaves them all on one deadline by chance.
      await applied(store, s.id, s.caller, { kind: 'history.add', productId: 'p1', viewedAt: t0 }, t0);
      await applied(store, s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'dark' } }, t0 + 1_000);
      await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, t0 + 2_000);
      const keys = await keysMatching(`*{${s.id}}*`);
      assert.equal(keys.length, 5);
      const before = await Promise.all(keys.map(expireTime));
      await store.touch(s.id, s.deviceId, t0 + 30_000, stamp());
      const after = await Promise.all(keys.map(expireTime));
      const loaded = await store.load(s.id, [], t0 + 30_000);
      assert.ok(loaded);
      assert.equal(loaded.meta.idleExpiresAt, t0 + 30_000 + 60_000);
      for (const [i, key] of keys.entries()) {
        assert.ok(after[i]! >= loaded.meta.idleExpiresAt, `${key} lives until the moved idle deadline (was ${before[i]}, now ${after[i]})`);
        assert.equal(after[i], after[0], `${key} shares the session's deadline`);
      }
    } finally {
      await store.close();
    }
  });

  it('a user index refresh that arrives late, with an earlier deadline than one already set, never shortens the index', async () => {
    // Refreshes race: concurrent requests, and background retries 1, 3 and 9 s after a failure.
    // An index that expired before its session would split the user's next sign-in into two sessions.
    const store = await connect(60_000);
    try {
      const userId = `late-refresh-${Math.random()}`;
      const s = await signIn(store, { userId });
      const indexKey = `ts:u:{${userId}}`;
      const sessionsKey = `ts:us:{${userId}}`;
      const refresh = (sessionId: string, deadline: number) => server.command('EVAL', INDEX_REFRESH_LUA, 2, indexKey, sessionsKey, sessionId, deadline);
      const start = await expireTime(indexKey);
      const later = start + 120_000;
      assert.equal(await refresh(s.id, later), 1);
      assert.equal(await expireTime(indexKey), later);
      assert.equal(await refresh(s.id, later - 60_000), 0, 'an earlier deadline is refused');
      assert.equal(await expireTime(indexKey), later, 'the index keeps the later deadline');
      assert.equal(await refresh(s.id, start), 0);
      assert.equal(await expireTime(indexKey), later);
      // A refresh for another session (the index moved on) changes nothing either.
      assert.equal(await refresh('some-other-session-id', later + 60_000), 0);
      assert.equal(await expireTime(indexKey), later);
      assert.equal(await server.command('GET', indexKey), `${s.meta.createdAt}:${s.id}`);
      assert.equal(await store.findUserSession(userId, Date.now()), s.id);
    } finally {
      await store.close();
    }
  });

  it('the user index and the user’s sessions set never expire before the session, whatever call moved the deadline', async () => {
    const store = await connect(2_000);
    try {
      const userId = `index-${Math.random()}`;
      const s = await signIn(store, { userId, idleMs: 2_000 });
      const indexKey = `ts:u:{${userId}}`;
      const check = async (step: string): Promise<void> => {
        const [index, sessions, meta] = await Promise.all([expireTime(indexKey), expireTime(`ts:us:{${userId}}`), expireTime(`ts:{${s.id}}:m`)]);
        const loaded = await store.load(s.id, [], Date.now());
        assert.ok(loaded, `${step}: session live`);
        assert.ok(index >= meta, `${step}: index deadline ${index} before the session's ${meta}`);
        assert.ok(sessions >= meta, `${step}: sessions set deadline ${sessions} before the session's ${meta}`);
        assert.ok(index >= loaded.meta.idleExpiresAt, `${step}: index deadline before the session deadline`);
      };
      await check('create');
      const steps: [string, () => Promise<unknown>][] = [
        ['apply', () => applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 })],
        ['touch', () => store.touch(s.id, s.deviceId, Date.now(), stamp())],
        ['merge', () => store.merge([{ sessionId: s.id, part: 'history', state: { items: { [`p${Math.random()}`]: Date.now() } }, hlc: stamp(), origin: 'us' }], Date.now())],
        ['join', () => signIn(store, { userId })],
      ];
      for (let round = 0; round < 12; round += 1) {
        const [name, call] = steps[round % steps.length]!;
        await sleep(15 + (round % 3) * 20);
        await call();
        await check(`${name} #${round}`);
      }
    } finally {
      await store.close();
    }
  });

  it('leaves no key of an expired session behind once the horizon has passed, user index included', async () => {
    const idle = 1_200;
    const store = await connect(idle, { horizonMs: 0 });
    try {
      const userId = `expiring-${Math.random()}`;
      const user = await fullSession(store, userId, idle);
      const guest = await signIn(store, { idleMs: idle });
      await applied(store, guest.id, guest.caller, { kind: 'history.add', productId: 'p', viewedAt: Date.now() });
      const ours = async () => [
        ...(await keysMatching(`*{${user.id}}*`)),
        ...(await keysMatching(`*{${guest.id}}*`)),
        ...(await keysMatching(`*{${userId}}*`)),
      ];
      assert.equal((await ours()).length, 5 + 5 + 2, 'five keys each, the user index and the user’s sessions set');
      const deadline = Date.now() + idle + idle / 100;
      await sleep(deadline - Date.now() + 50);
      let left = await ours();
      for (let i = 0; i < 20 && left.length > 0; i += 1) {
        await sleep(50);
        left = await ours();
      }
      assert.deepEqual(left, []);
      assert.equal(await store.findUserSession(userId, Date.now()), null);
    } finally {
      await store.close();
    }
  });

  it('ending a session removes its data and its index at once; a metadata tombstone stays until the absolute deadline plus the horizon', async () => {
    const store = await connect(60_000);
    try {
      const userId = `ending-${Math.random()}`;
      const s = await fullSession(store, userId);
      await applied(store, s.id, admin, { kind: 'session.end' });
      assert.deepEqual(await keysMatching(`*{${s.id}}*`), [`ts:{${s.id}}:m`]);
      assert.equal(await server.command('EXISTS', `ts:u:{${userId}}`), 0);
      const tombstone = await expireTime(`ts:{${s.id}}:m`);
      assert.ok(tombstone >= s.meta.absoluteExpiresAt + HORIZON_MS, 'a late change cannot bring it back while it could still be alive elsewhere');
      assert.ok(tombstone <= s.meta.absoluteExpiresAt + HORIZON_MS + 600);
      assert.equal(await server.command('HGET', `ts:{${s.id}}:m`, 's'), '', 'the tombstone keeps no CSRF secret');
      // The user's sessions outlive the tombstone, which names the user: an erasure must find them.
      assert.ok((await expireTime(`ts:us:{${userId}}`)) >= tombstone);
      assert.deepEqual(await server.command('HKEYS', `ts:us:{${userId}}`), [s.id]);
    } finally {
      await store.close();
    }
  });
});

describe('The Lua function library', { timeout: 60_000 }, () => {
  /** The names of the libraries the server holds. */
  async function libraries(): Promise<string[]> {
    const list = (await server.command('FUNCTION', 'LIST')) as unknown[][];
    return list.map((entry) => String(entry[entry.indexOf('library_name') + 1])).sort();
  }

  it('a server that lost the library (restarted, flushed) is given it by the next call; another release’s library stays beside it', async () => {
    const store = await connect(60_000);
    try {
      const s = await signIn(store);
      await server.command('FUNCTION', 'FLUSH');
      // The library of another release, as in a rolling upgrade: same prefix, other code.
      const other = functionLibrary('tessera', LIBRARY, { tesseraApply: { body: `return 'another release'` } });
      await server.command('FUNCTION', 'LOAD', other.code);

      await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 2 });
      assert.deepEqual(Object.keys((await store.load(s.id, ['cart'], Date.now()))?.cart?.lines ?? {}), ['A']);
      assert.deepEqual(await libraries(), [other.name, TESSERA_FUNCTIONS.name].sort());
      assert.equal(await server.command('FCALL', other.functions.tesseraApply!, 0), 'another release');
    } finally {
      await store.close();
    }
  });

  it('calls that all find the library missing at once each load it, and every one of them succeeds', async () => {
    const store = await connect(60_000);
    try {
      const sessions = [];
      for (let i = 0; i < 10; i += 1) sessions.push(await signIn(store));
      await server.command('FUNCTION', 'FLUSH');
      // Pipelined on one connection: every call meets "Function not found" before the first load lands,
      // so all but one load meet "already exists".
      await Promise.all(sessions.map((s) => applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 })));
      for (const s of sessions) assert.deepEqual(Object.keys((await store.load(s.id, ['cart'], Date.now()))?.cart?.lines ?? {}), ['A']);
      assert.deepEqual(await libraries(), [TESSERA_FUNCTIONS.name]);
    } finally {
      await store.close();
    }
  });

  it('reads go on while Redis is over its memory limit; writes are refused and change nothing', async () => {
    const store = await connect(60_000);
    try {
      const s = await signIn(store);
      await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
      await server.command('CONFIG', 'SET', 'maxmemory', '1');
      try {
        await assert.rejects(store.apply(s.id, s.caller, { kind: 'cart.add', sku: 'B', quantity: 1 }, { now: Date.now(), hlc: stamp() }));
        assert.deepEqual(Object.keys((await store.load(s.id, ['cart'], Date.now()))?.cart?.lines ?? {}), ['A']);
      } finally {
        await server.command('CONFIG', 'SET', 'maxmemory', '0');
      }
    } finally {
      await store.close();
    }
  });
});

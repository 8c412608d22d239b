/**
 * Redis engine costs: round trips per store call (counted with MONITOR) and
 * memory per session (a typical 4 KB session, measured on a server of its own).
 * The figures are printed as test diagnostics and recorded in docs/redis.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setLineQuantity, withAttributes, type CartLineState } from '../../src/domain/cart.js';
import { patchRegisters, type JsonObject } from '../../src/domain/prefs.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { monitor } from '../support/redis-monitor.js';
import { applied, loadAll, randomHash, settings, signIn, stamp } from './conformance/support.js';

/** As a single-region deployment runs: no feed to write, activity recorded once per slide interval. */
const SINGLE_REGION = { feedConsumers: [], slideAfterMs: 3_600_000 };

const THIRTY_DAYS = 30 * 24 * 3600 * 1000;

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

async function connect(): Promise<SessionStore> {
  // An hour-long expiry step, as production's default, so a user's index follows rarely.
  return RedisStore.connect({ ...settings({}, THIRTY_DAYS, SINGLE_REGION), engine: 'redis', url: server.url, tuning: { expiryStepMs: 3_600_000 } });
}

describe('Redis round trips', { timeout: 60_000 }, () => {
  it('a token check is made in Redis: no device crosses the wire unless the devices part is asked for', async () => {
    const store = await connect();
    try {
      const userId = `many-devices-${Math.random()}`;
      const first = await signIn(store, { userId, idleMs: THIRTY_DAYS });
      for (let i = 0; i < 4; i += 1) await signIn(store, { userId, idleMs: THIRTY_DAYS });
      const credential = { deviceId: first.deviceId, hash: first.hash };
      const loaded = await store.load(first.id, ['cart'], Date.now(), { credential });
      assert.equal(loaded?.credential, 'current');
      assert.deepEqual(Object.keys(loaded!.devices.devices), []);
      assert.equal(Object.keys((await store.load(first.id, ['devices'], Date.now(), { credential }))!.devices.devices).length, 5);
    } finally {
      await store.close();
    }
  });

  it('load is one command, apply is one command, touch is one command', async (t) => {
    const store = await connect();
    const log = await monitor(server.port);
    try {
      const guest = await signIn(store, { idleMs: THIRTY_DAYS });
      const userId = `counted-${Math.random()}`;
      const user = await signIn(store, { userId, idleMs: THIRTY_DAYS });
      // The first call on a server loads the library there (Function not found, FUNCTION LOAD, then FCALL again).
      await store.load(guest.id, ['cart'], Date.now());
      await applied(store, guest.id, guest.caller, { kind: 'cart.add', sku: 'warm', quantity: 1 });
      await store.touch(guest.id, guest.deviceId, Date.now(), stamp());
      await log.take();

      const counted = async (what: string, call: () => Promise<unknown>): Promise<string[]> => {
        await call();
        const commands = await log.take();
        t.diagnostic(`${what}: ${commands.length} command(s) ${commands.join(' ')}`);
        return commands;
      };
      assert.deepEqual(await counted('load (all parts)', () => store.load(guest.id, ['cart', 'prefs', 'history', 'devices'], Date.now())), ['FCALL']);
      assert.deepEqual(await counted('load (auth only)', () => store.load(guest.id, [], Date.now())), ['FCALL']);
      assert.deepEqual(await counted('apply cart.add', () => applied(store, guest.id, guest.caller, { kind: 'cart.add', sku: 'A', quantity: 1 })), ['FCALL']);
      assert.deepEqual(await counted('apply prefs.patch', () => applied(store, guest.id, guest.caller, { kind: 'prefs.patch', patch: { a: { b: 1 } } })), ['FCALL']);
      assert.deepEqual(await counted('touch', () => store.touch(guest.id, guest.deviceId, Date.now(), stamp())), ['FCALL']);
      assert.deepEqual(await counted('create (guest)', () => signIn(store)), ['FCALL']);

      // A user's session also moves its index's deadline, once per expiry step at most.
      await counted('apply on a user session (first, may move the index)', () => applied(store, user.id, user.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }));
      let total = 0;
      for (let i = 0; i < 20; i += 1) {
        await applied(store, user.id, user.caller, { kind: 'history.add', productId: `p${i}`, viewedAt: Date.now() });
        total += (await log.take()).length;
      }
      t.diagnostic(`20 applies on a user session: ${total} commands`);
      assert.ok(total <= 21, `${total} commands for 20 applies`);

      const join = await counted('create (user with a live session: join)', () => signIn(store, { userId }));
      assert.ok(join.length <= 3 && join[0] === 'GET', join.join(' '));
      const fresh = await counted('create (new user)', () => signIn(store, { userId: `fresh-${Math.random()}` }));
      // The index is claimed by a script, which also registers the session as the user's (privacy requests find it).
      assert.deepEqual(fresh, ['GET', 'FCALL', 'FCALL']);
    } finally {
      log.stop();
      await store.close();
    }
  });
});

/** A typical signed-in session: 2 devices (one rotated), 10 cart lines, 8 preferences, 50 viewed products. */
async function typicalSession(store: SessionStore, n: number): Promise<string> {
  const now = Date.now();
  const userId = `shopper-${n}-${Math.random().toString(36).slice(2, 10)}`;
  const laptop = await signIn(store, {
    userId,
    idleMs: THIRTY_DAYS,
    absoluteMs: 12 * THIRTY_DAYS,
    label: {
      name: 'MacBook Pro',
      kind: 'browser',
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
      ip: '203.0.113.42',
    },
  });
  await signIn(store, {
    userId,
    label: { name: 'Pixel 8', kind: 'app', userAgent: 'ShopApp/5.12.0 (Android 14; Pixel 8)', ip: '198.51.100.7' },
  });
  await applied(store, laptop.id, laptop.caller, { kind: 'device.rotate', deviceId: laptop.deviceId, hash: randomHash(), graceMs: 30_000 });
  const lines: Record<string, CartLineState> = {};
  for (let i = 0; i < 10; i += 1) {
    const line = setLineQuantity(undefined, 'eu', 1 + (i % 3), now - i * 60_000);
    lines[`SKU-${String(100_000 + n * 17 + i * 7919).padStart(8, '0')}`] = i % 3 === 0 ? withAttributes(line, { size: 'M', colour: 'navy' }, stamp()) : line;
  }
  const prefs: JsonObject = {
    theme: 'dark',
    currency: 'EUR',
    locale: 'fr-FR',
    timezone: 'Europe/Paris',
    newsletter: true,
    notifications: { email: true, sms: false, push: { orders: true, promotions: false } },
    sizes: { shirt: 'M', trousers: '32/32', shoes: 42 },
    recentSearches: ['running shoes', 'rain jacket', 'merino socks'],
  };
  const history: Record<string, number> = {};
  for (let i = 0; i < 50; i += 1) history[`prod-${String(n * 131 + i * 37).padStart(7, '0')}`] = now - i * 90_000;
  const base = { sessionId: laptop.id, hlc: stamp(), origin: 'eu' };
  await store.merge(
    [
      { ...base, part: 'cart', state: { lines } },
      { ...base, part: 'prefs', state: patchRegisters({ keys: {} }, prefs, base.hlc) },
      { ...base, part: 'history', state: { items: history } },
    ],
    now,
  );
  return laptop.id;
}

async function usedMemory(redis: RedisServer): Promise<number> {
  const info = String(await redis.command('INFO', 'memory'));
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

describe('Redis memory', { timeout: 120_000 }, () => {
  it('a typical 4 KB session takes under 1.6 × its JSON size, under 1.3 × with larger listpack values', async (t) => {
    const redis = await startRedis();
    const store = await RedisStore.connect({ ...settings({}, THIRTY_DAYS, SINGLE_REGION), engine: 'redis', url: redis.url });
    try {
      const sample = await typicalSession(store, 0);
      const loaded = await loadAll(store, sample);
      const payload = Buffer.byteLength(JSON.stringify({ meta: loaded.meta, devices: loaded.devices, cart: loaded.cart, prefs: loaded.prefs, history: loaded.history }));
      const keys = ['m', 'd', 'c', 'p', 'h'].map((suffix) => `ts:{${sample}}:${suffix}`);
      keys.push(`ts:u:{${loaded.meta.userId}}`, `ts:us:{${loaded.meta.userId}}`);
      let usage = 0;
      for (const key of keys) {
        const bytes = Number(await redis.command('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
        usage += bytes;
        t.diagnostic(`${key.replace(sample, '…')}: ${await redis.command('OBJECT', 'ENCODING', key)}, ${bytes} bytes`);
      }
      t.diagnostic(`payload (the parts as JSON): ${payload} bytes; MEMORY USAGE of its keys: ${usage} bytes`);
      assert.ok(payload > 3_500 && payload < 5_500, `the sample is a ~4 KB session (${payload} bytes)`);
      // The user's sessions are a hash, not a set: Redis 7.0 keeps a set of ids as a hash table (D94).
      assert.equal(await redis.command('OBJECT', 'ENCODING', `ts:us:{${loaded.meta.userId}}`), 'listpack');

      const perSession = async (label: string): Promise<number> => {
        const count = 500;
        const before = await usedMemory(redis);
        for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => typicalSession(store, i + j + 1)));
        const bytes = Math.round(((await usedMemory(redis)) - before) / count);
        t.diagnostic(`${label}: ${bytes} bytes per session (used_memory over ${count} sessions), ${(bytes / payload).toFixed(2)} × the payload`);
        return bytes;
      };
      const defaults = await perSession('default hash-max-listpack-value 64');
      assert.ok(defaults < 1.6 * payload, `${defaults} bytes per session`);
      await redis.command('CONFIG', 'SET', 'hash-max-listpack-value', '512');
      const tuned = await perSession('hash-max-listpack-value 512');
      assert.ok(tuned < 1.3 * payload, `${tuned} bytes per session with larger listpack values`);
      const tunedSample = await typicalSession(store, 9_999);
      for (const suffix of ['m', 'd', 'c', 'p', 'h']) {
        assert.equal(await redis.command('OBJECT', 'ENCODING', `ts:{${tunedSample}}:${suffix}`), 'listpack');
      }
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});

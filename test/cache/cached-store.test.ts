import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CachedStore, DEFAULT_L1_OPTIONS } from '../../src/cache/cached-store.js';
import { newDevice } from '../../src/domain/devices.js';
import { DEFAULT_LIMITS } from '../../src/domain/limits.js';
import { cartItemsJson } from '../../src/domain/part-json.js';
import { HybridLogicalClock } from '../../src/domain/hlc.js';
import type { DataPart } from '../../src/domain/parts.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Caller } from '../../src/store/session-store.js';

describe('L1 cache in front of a shared store (two nodes on one database)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-l1-'));
  const settings = { idleTimeoutMs: 3_600_000, slideAfterMs: 0, limits: DEFAULT_LIMITS, origin: 'local', horizonMs: 60_000, feedConsumers: [] };
  const lookups: string[] = [];
  const nodeA = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems, DEFAULT_L1_OPTIONS, {
    lookup: (part, outcome) => lookups.push(`${part}:${outcome}`),
  });
  const nodeB = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems);
  const clock = new HybridLogicalClock('local');
  const caller: Caller = { kind: 'device', deviceId: 'dev-aaaaaaaaaaaa', tokenHash: 'hash-1' };
  const sessionId = 'session-l1-000000000000';

  before(async () => {
    const now = Date.now();
    await nodeA.create(
      {
        meta: { id: sessionId, userId: null, createdAt: now, lastActiveAt: now, idleExpiresAt: now + 3_600_000, absoluteExpiresAt: now + 7_200_000, csrfSecret: 's' },
        deviceId: caller.deviceId,
        device: newDevice({}, 'hash-1', now, clock.now()),
      },
      { now, hlc: clock.now() },
    );
  });
  after(async () => {
    await nodeA.close();
    await nodeB.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const add = (store: CachedStore, sku: string) =>
    store.apply(sessionId, caller, { kind: 'cart.add', sku, quantity: 1 }, { now: Date.now(), hlc: clock.now() });
  const quantities = async (store: CachedStore, parts: DataPart[] = ['cart']) => {
    const session = await store.load(sessionId, parts, Date.now());
    return Object.fromEntries(Object.entries(session?.cart?.lines ?? {}).map(([sku, line]) => [sku, Object.values(line.n).reduce((s, [a, r]) => s + a - r, 0)]));
  };

  test('a second read of an unchanged part is served from L1 after the store confirms its version', async () => {
    await add(nodeA, 'A');
    lookups.length = 0;
    assert.deepEqual(await quantities(nodeA), { A: 1 });
    assert.deepEqual(await quantities(nodeA), { A: 1 });
    assert.deepEqual(lookups, ['cart:hit', 'cart:hit']);
  });

  test('a part served from L1 comes as its public JSON, and its state, parsed on first use, is the stored one', async () => {
    await add(nodeA, 'TEXT');
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    try {
      const stored = await plain.load(sessionId, ['cart'], Date.now());
      const hit = await nodeA.load(sessionId, ['cart'], Date.now());
      assert.equal(hit?.rendered?.cart, cartItemsJson(stored!.cart!));
      assert.deepEqual(hit?.cart, stored?.cart);
      assert.equal(stored?.rendered, undefined, 'a store without L1 answers with states only');
    } finally {
      await plain.close();
    }
  });

  test('a written part pushed out of the parsed states by 600 other writes still reads and joins exactly', async () => {
    // 1 MiB of L1: 128 KiB of parsed states, a couple of hundred of these carts.
    const node = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems, { ...DEFAULT_L1_OPTIONS, maxBytes: 1024 * 1024 }, {
      lookup: (part, outcome) => lookups.push(`${part}:${outcome}`),
    });
    const now = Date.now();
    const ids = Array.from({ length: 601 }, (_, i) => `session-l1-many-${String(i).padStart(6, '0')}`);
    for (const id of ids) {
      const meta = { id, userId: null, createdAt: now, lastActiveAt: now, idleExpiresAt: now + 3_600_000, absoluteExpiresAt: now + 7_200_000, csrfSecret: 's' };
      await node.create({ meta, deviceId: caller.deviceId, device: newDevice({}, 'hash-1', now, clock.now()) }, { now, hlc: clock.now() });
    }
    const write = (id: string, sku: string) => node.apply(id, caller, { kind: 'cart.add', sku, quantity: 2 }, { now: Date.now(), hlc: clock.now() });
    await write(ids[0]!, 'FIRST');
    for (const id of ids.slice(1)) await write(id, 'OTHER');
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    try {
      lookups.length = 0;
      const hit = await node.load(ids[0]!, ['cart'], Date.now());
      assert.deepEqual(lookups, ['cart:hit']);
      const pushedOut = (await plain.load(ids[0]!, ['cart'], Date.now()))?.cart;
      assert.deepEqual(hit?.cart, pushedOut);
      // Written and never read: its public JSON was made as it left the parsed states.
      assert.equal(hit?.rendered?.cart, cartItemsJson(pushedOut!));
      const joined = await write(ids[0]!, 'SECOND');
      assert.equal(joined.status, 'applied');
      const stored = await plain.load(ids[0]!, ['cart'], Date.now());
      assert.deepEqual(joined.status === 'applied' ? joined.session.cart : undefined, stored?.cart);
      assert.deepEqual(Object.keys(stored!.cart!.lines).sort(), ['FIRST', 'SECOND']);
      // The last-written part, still parsed: a read hands out that state.
      lookups.length = 0;
      assert.deepEqual((await node.load(ids[0]!, ['cart'], Date.now()))?.cart, stored?.cart);
      assert.deepEqual(lookups, ['cart:hit']);
    } finally {
      await plain.close();
      await node.close();
    }
  });

  test('a written state too large for the parsed budget is kept as text at once: reads and joins stay exact', async () => {
    // 16 KiB of L1: 2 KiB of parsed states, less than this cart's line alone would take parsed.
    const node = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems, { ...DEFAULT_L1_OPTIONS, maxBytes: 16 * 1024 }, {
      lookup: (part, outcome) => lookups.push(`${part}:${outcome}`),
    });
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    const id = 'session-l1-large-000000';
    const now = Date.now();
    const meta = { id, userId: null, createdAt: now, lastActiveAt: now, idleExpiresAt: now + 3_600_000, absoluteExpiresAt: now + 7_200_000, csrfSecret: 's' };
    await node.create({ meta, deviceId: caller.deviceId, device: newDevice({}, 'hash-1', now, clock.now()) }, { now, hlc: clock.now() });
    const write = (sku: string) =>
      node.apply(id, caller, { kind: 'cart.add', sku, quantity: 1, attributes: { note: 'x'.repeat(1_000) } }, { now: Date.now(), hlc: clock.now() });
    try {
      assert.equal((await write('BIG-1')).status, 'applied');
      lookups.length = 0;
      const stored = await plain.load(id, ['cart'], Date.now());
      const hit = await node.load(id, ['cart'], Date.now());
      assert.deepEqual(lookups, ['cart:hit'], 'the entry is in L1, with its state as text');
      assert.deepEqual(hit?.cart, stored?.cart);
      assert.equal(hit?.rendered?.cart, cartItemsJson(stored!.cart!));
      const joined = await write('BIG-2');
      const after = await plain.load(id, ['cart'], Date.now());
      assert.deepEqual(joined.status === 'applied' ? joined.session.cart : undefined, after?.cart);
      assert.deepEqual(Object.keys(after!.cart!.lines).sort(), ['BIG-1', 'BIG-2']);
    } finally {
      await plain.close();
      await node.close();
    }
  });

  test('a part written again and again without a read is rendered by the first read, from the last write', async () => {
    await add(nodeA, 'W1');
    await add(nodeA, 'W2');
    await add(nodeA, 'W2');
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    try {
      const stored = (await plain.load(sessionId, ['cart'], Date.now()))?.cart;
      lookups.length = 0;
      const first = await nodeA.load(sessionId, ['cart'], Date.now());
      const second = await nodeA.load(sessionId, ['cart'], Date.now());
      assert.deepEqual(lookups, ['cart:hit', 'cart:hit']);
      assert.equal(first?.rendered?.cart, cartItemsJson(stored!));
      assert.match(first!.rendered!.cart!, /"sku":"W2","quantity":2/);
      assert.equal(second?.rendered?.cart, first?.rendered?.cart, 'the view made by the first read is kept');
    } finally {
      await plain.close();
    }
  });

  test('a write and a read that misses carry the JSON L1 rendered for the part: the answer renders nothing again', async () => {
    const joined = await add(nodeA, 'ANSWER-1');
    assert.equal(joined.status, 'applied');
    const written = joined.status === 'applied' ? joined.session : undefined;
    assert.equal(written?.rendered?.cart, cartItemsJson(written!.cart!), 'the write joined into a cached part');
    assert.match(written!.rendered!.cart!, /"sku":"ANSWER-1","quantity":1/);
    // Written through the other node: this node's entry is a version behind, so its read misses and stores afresh.
    await add(nodeB, 'ANSWER-2');
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    try {
      const stored = (await plain.load(sessionId, ['cart', 'prefs'], Date.now()))!;
      lookups.length = 0;
      const missed = await nodeA.load(sessionId, ['cart', 'prefs'], Date.now());
      assert.deepEqual(lookups, ['cart:miss', 'prefs:miss']);
      assert.equal(missed?.rendered?.cart, cartItemsJson(stored.cart!));
      assert.equal(missed?.rendered?.prefs, '{}');
      assert.deepEqual(missed?.cart, stored.cart);
      // A first write to a part L1 does not hold yet comes back whole from the store, and is rendered too.
      const fresh = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems);
      try {
        const first = await fresh.apply(sessionId, caller, { kind: 'cart.add', sku: 'ANSWER-3', quantity: 2 }, { now: Date.now(), hlc: clock.now() });
        const session = first.status === 'applied' ? first.session : undefined;
        assert.equal(session?.rendered?.cart, cartItemsJson(session!.cart!));
        assert.match(session!.rendered!.cart!, /"sku":"ANSWER-3","quantity":2/);
      } finally {
        await fresh.close();
      }
    } finally {
      await plain.close();
    }
  });

  test('a read whose store call overlaps a write on the same node still gets the state of the version the store named', async () => {
    // Regression: the read confirmed the version of an entry without text after the write had moved the parsed state on (503s under load).
    let release: () => void = () => {};
    let gated = false;
    const plain = new SqliteStore({ ...settings, path: join(dir, 'db') });
    const slowLoads = new Proxy(plain, {
      get(target, name) {
        if (name !== 'load') {
          const value: unknown = Reflect.get(target, name, target);
          // Methods run on the store itself: its private fields are not the proxy's.
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: Parameters<SqliteStore['load']>) => {
          const loaded = await target.load(...args);
          if (gated) await new Promise<void>((resolve) => (release = resolve));
          return loaded;
        };
      },
    });
    const node = new CachedStore(slowLoads, DEFAULT_LIMITS.historyItems);
    try {
      const write = (sku: string) => node.apply(sessionId, caller, { kind: 'cart.add', sku, quantity: 1 }, { now: Date.now(), hlc: clock.now() });
      await node.load(sessionId, ['cart'], Date.now());
      await write('OVERLAP-1');
      const before = (await plain.load(sessionId, ['cart'], Date.now()))!.cart;
      gated = true;
      const reading = node.load(sessionId, ['cart'], Date.now());
      await new Promise((resolve) => setImmediate(resolve));
      gated = false;
      await write('OVERLAP-2');
      release();
      const read = await reading;
      assert.deepEqual(read?.cart, before, 'the state at the version the store read');
      assert.equal(read?.rendered?.cart, cartItemsJson(before!));
      assert.equal((await node.load(sessionId, ['cart'], Date.now()))?.cart?.lines['OVERLAP-2'] !== undefined, true);
    } finally {
      await node.close();
    }
  });

  test('L1 holds no more text than its byte bound, evicting the least recently used', async () => {
    const small = new CachedStore(new SqliteStore({ ...settings, path: join(dir, 'db') }), DEFAULT_LIMITS.historyItems, { ...DEFAULT_L1_OPTIONS, maxBytes: 4_000 });
    try {
      for (let i = 0; i < 30; i++) await small.apply(sessionId, caller, { kind: 'cart.add', sku: `BIG-${i}`, quantity: 1, attributes: { note: 'x'.repeat(40) } }, { now: Date.now(), hlc: clock.now() });
      const cart = await small.load(sessionId, ['cart'], Date.now());
      const text = cartItemsJson(cart!.cart!).length + JSON.stringify(cart!.cart).length;
      assert.ok(text > 4_000, `the cart's text is ${text} bytes`);
      assert.equal(small.size, 0, 'an entry larger than the bound is not kept');
      await small.load(sessionId, ['prefs'], Date.now());
      assert.equal(small.size, 1, 'a small part still is');
    } finally {
      await small.close();
    }
  });

  test('a write through one node is read through the other at once, in 200 alternating rounds', async () => {
    await quantities(nodeB);
    let stale = 0;
    for (let round = 1; round <= 200; round++) {
      await add(round % 2 ? nodeA : nodeB, 'RYW');
      const seen = await quantities(round % 2 ? nodeB : nodeA);
      if (seen.RYW !== round) stale += 1;
    }
    assert.equal(stale, 0);
  });

  test('a revoke through one node is refused by the other at once: devices are never cached', async () => {
    const now = Date.now();
    await nodeB.apply(sessionId, { kind: 'admin' }, { kind: 'device.add', deviceId: 'dev-bbbbbbbbbbbb', label: {}, hash: 'hash-2' }, { now, hlc: clock.now() });
    const before = await nodeA.load(sessionId, ['cart'], Date.now());
    assert.equal(before?.devices.devices['dev-bbbbbbbbbbbb']?.revokedAt, undefined);
    await nodeB.apply(sessionId, { kind: 'admin' }, { kind: 'device.revoke', deviceId: 'dev-bbbbbbbbbbbb' }, { now: Date.now(), hlc: clock.now() });
    const afterRevoke = await nodeA.load(sessionId, ['cart'], Date.now());
    assert.notEqual(afterRevoke?.devices.devices['dev-bbbbbbbbbbbb']?.revokedAt, undefined);
  });

  test('an ended session drops its cached parts and is not served from L1', async () => {
    await quantities(nodeA);
    assert.ok(nodeA.size > 0);
    await nodeB.apply(sessionId, { kind: 'admin' }, { kind: 'session.end' }, { now: Date.now(), hlc: clock.now() });
    assert.equal(await nodeA.load(sessionId, ['cart'], Date.now()), null);
    assert.equal(nodeA.size, 0);
  });
});

/**
 * Writes through L1 on Redis: when a node holds the part it changes, Redis
 * sends back only the change records and the node joins them into its copy.
 * These tests hold that copy to what Redis stores, after every write of a
 * random sequence from two nodes and a third writer that bypasses both caches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedStore, DEFAULT_L1_OPTIONS } from '../../src/cache/cached-store.js';
import type { Operation } from '../../src/domain/operations.js';
import type { DataPart } from '../../src/domain/parts.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { LoadedSession, SessionStore } from '../../src/store/session-store.js';
import { cartItemsJson, historyItemsJson, prefsJson } from '../../src/domain/part-json.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { pick, random, settings, signIn, stamp, type SignedIn } from '../store/conformance/support.js';

const HISTORY_LIMIT = 8;

const PART_JSON = {
  cart: (session: LoadedSession) => cartItemsJson(session.cart!),
  prefs: (session: LoadedSession) => prefsJson(session.prefs!),
  history: (session: LoadedSession) => historyItemsJson(session.history!),
};

describe('L1 write-through on Redis', () => {
  let server: RedisServer;
  const stores: SessionStore[] = [];
  const bytesRead: number[] = [];
  let nodeA: CachedStore;
  let nodeB: CachedStore;
  let bypass: SessionStore;

  before(async () => {
    server = await startRedis();
    const connect = async (onBytesRead?: (bytes: number) => void) => {
      const store = await RedisStore.connect({
        ...settings({ historyItems: HISTORY_LIMIT }),
        ...(onBytesRead ? { onBytesRead } : {}),
        engine: 'redis',
        url: server.url,
      });
      stores.push(store);
      return store;
    };
    nodeA = new CachedStore(await connect((bytes) => bytesRead.push(bytes)), HISTORY_LIMIT, DEFAULT_L1_OPTIONS);
    nodeB = new CachedStore(await connect(), HISTORY_LIMIT, DEFAULT_L1_OPTIONS);
    bypass = await connect();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await server.stop();
  });

  const operations: Operation[] = [
    { kind: 'cart.add', sku: 'A', quantity: 1 },
    { kind: 'cart.add', sku: 'B', quantity: 2, attributes: { size: 'M' } },
    { kind: 'cart.set', sku: 'A', quantity: 5 },
    { kind: 'cart.set', sku: 'C', quantity: 1, attributes: { colour: 'red' } },
    { kind: 'cart.remove', sku: 'B' },
    { kind: 'cart.remove', sku: 'absent' },
    { kind: 'cart.clear' },
    { kind: 'prefs.patch', patch: { theme: { color: 'dark', font: 'serif' } } },
    { kind: 'prefs.patch', patch: { theme: { font: null }, lang: 'de' } },
    { kind: 'prefs.patch', patch: { lang: null } },
  ];
  // Half of the views are the newest (viewed now), which L1 renders from its last text.
  const historyAdd = (next: () => number): Operation => ({
    kind: 'history.add',
    productId: `p${Math.floor(next() * 20)}`,
    viewedAt: next() < 0.5 ? Date.now() : Date.now() - Math.floor(next() * 60_000),
  });

  for (const seed of [3, 11]) {
    test(`after each of 150 random writes (seed ${seed}), the writing node's copy equals what Redis stores`, async () => {
      const next = random(seed);
      const s: SignedIn = await signIn(bypass);
      const parts: DataPart[] = ['cart', 'prefs', 'history'];
      // Both nodes start out holding every part.
      await nodeA.load(s.id, parts, Date.now());
      await nodeB.load(s.id, parts, Date.now());
      for (let step = 0; step < 150; step += 1) {
        const op = next() < 0.3 ? historyAdd(next) : pick(next, operations);
        const writer = pick(next, [nodeA, nodeB, bypass]);
        const result = await writer.apply(s.id, s.caller, op, { now: Date.now(), hlc: stamp() });
        assert.equal(result.status, 'applied', `step ${step}: ${op.kind}`);
        if (result.status !== 'applied' || writer === bypass) continue;
        const part = op.kind.split('.')[0] as 'cart' | 'prefs' | 'history';
        const stored = await bypass.load(s.id, [part], Date.now());
        assert.deepEqual(result.session[part], stored?.[part], `step ${step}: ${op.kind} through ${writer === nodeA ? 'A' : 'B'}`);
        assert.equal(result.session.versions[part], stored?.versions[part]);
        // The JSON the answer carries (L1's, made from its last text for a view joined into a history) is the stored part's.
        assert.equal(result.session.rendered?.[part], PART_JSON[part](stored!), `step ${step}: the JSON after ${op.kind}`);
        // And the next read through that node, served from its copy, agrees too.
        const read = await writer.load(s.id, [part], Date.now());
        assert.deepEqual(read?.[part], stored?.[part], `step ${step}: read after ${op.kind}`);
        assert.equal(read?.rendered?.[part], PART_JSON[part](stored!), `step ${step}: the JSON read after ${op.kind}`);
      }
    });
  }

  test('views joined into a full history through L1 answer its JSON, ids that look like JSON included', async () => {
    const s = await signIn(bypass);
    await nodeA.load(s.id, ['history'], Date.now());
    const t0 = Date.now() - 1_000_000;
    // More views than the history keeps, a product viewed again, one view older than the newest, ids like the text around them.
    const views: Array<[string, number]> = [];
    for (let i = 0; i < HISTORY_LIMIT + 5; i += 1) views.push([`P-${i}`, t0 + i * 1000]);
    views.push(['P-10', t0 + 500_000], ['P-old', t0 + 10_500], ['"quoted",{"productId":"P-7"}', t0 + 600_000], ['P-1', t0 + 700_000], ['P-1', t0 + 800_000]);
    for (const [productId, viewedAt] of views) {
      const result = await nodeA.apply(s.id, s.caller, { kind: 'history.add', productId, viewedAt }, { now: Date.now(), hlc: stamp() });
      assert.equal(result.status, 'applied');
      const stored = await bypass.load(s.id, ['history'], Date.now());
      if (result.status === 'applied') assert.equal(result.session.rendered?.history, historyItemsJson(stored!.history!), `after viewing ${productId}`);
    }
    const read = await nodeA.load(s.id, ['history'], Date.now());
    assert.deepEqual(
      JSON.parse(read!.rendered!.history!).map((item: { productId: string }) => item.productId).slice(0, 3),
      ['P-1', '"quoted",{"productId":"P-7"}', 'P-10'],
    );
  });

  test('change records merged through another store (a guest merge, replication) are seen by the next read through a node holding the parts', async () => {
    const s = await signIn(bypass);
    const parts: DataPart[] = ['cart', 'prefs', 'history'];
    await nodeA.apply(s.id, s.caller, { kind: 'cart.add', sku: 'A', quantity: 1 }, { now: Date.now(), hlc: stamp() });
    const held = await nodeA.load(s.id, parts, Date.now());
    assert.ok(held);
    const now = Date.now();
    const base = { sessionId: s.id, hlc: stamp(), origin: 'us' };
    await bypass.merge(
      [
        { ...base, part: 'cart', state: { lines: { G: { n: { 'guest-x/us': [2, 0] }, at: now } } } },
        { ...base, part: 'prefs', state: { keys: { theme: { v: 'dark', t: stamp() } } } },
        { ...base, part: 'history', state: { items: { 'p-merged': now } } },
      ],
      now,
    );
    const stored = await bypass.load(s.id, parts, Date.now());
    const read = await nodeA.load(s.id, parts, Date.now());
    for (const part of parts) {
      assert.notEqual(stored?.versions[part], held.versions[part], `the merge moved the ${part} version`);
      assert.deepEqual(read?.[part], stored?.[part], `node A serves the merged ${part}, not its copy`);
      assert.equal(read?.versions[part], stored?.versions[part]);
    }
    assert.deepEqual(Object.keys(read!.cart!.lines).sort(), ['A', 'G']);
  });

  test('a write to a part the node holds at its current version does not read the part back', async () => {
    const s = await signIn(bypass);
    for (let i = 0; i < 40; i += 1) {
      await bypass.apply(s.id, s.caller, { kind: 'cart.add', sku: `SKU-${i}`, quantity: 1, attributes: { title: 'x'.repeat(100) } }, { now: Date.now(), hlc: stamp() });
    }
    bytesRead.length = 0;
    await nodeA.load(s.id, ['cart'], Date.now());
    const [whole] = bytesRead.splice(0);
    const add = await nodeA.apply(s.id, s.caller, { kind: 'cart.add', sku: 'SKU-0', quantity: 1 }, { now: Date.now(), hlc: stamp() });
    const [delta] = bytesRead.splice(0);
    assert.equal(add.status, 'applied');
    assert.ok(whole! > 4_000, `the cart read back whole is ${whole} bytes`);
    assert.ok(delta! < whole! / 4, `a cart add read ${delta} bytes; the whole cart is ${whole}`);
    if (add.status === 'applied') assert.equal(Object.keys(add.session.cart!.lines).length, 40);
  });
});

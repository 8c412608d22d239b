/**
 * The history's two stored forms on one real redis-server (decision D93): a
 * sorted set, this release's default, and a hash, the form earlier releases
 * wrote and read. Three stores share the keys: one that keeps histories as
 * sorted sets, one that keeps them as hashes (a node set to `hash` for the
 * rollout, writing what an earlier release wrote), and each session's twins
 * written only by one of them. Whatever store writes a step, every store must
 * load the same history, with the same version, as the TypeScript join gives:
 * the version is compared across regions by the repair, and regions may keep
 * different forms while they are upgraded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { EMPTY_HISTORY, mergeHistory, type HistoryState } from '../../src/domain/history.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { applied, loadAll, settings, signIn, stamp, type SignedIn } from './conformance/support.js';

const LIMIT = 3;
const STORE_SETTINGS = settings({ historyItems: LIMIT });
const PRODUCTS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p10'];

let server: RedisServer;
let sorted: SessionStore;
let hashed: SessionStore;
before(async () => {
  server = await startRedis();
  sorted = await RedisStore.connect({ ...STORE_SETTINGS, engine: 'redis', url: server.url });
  hashed = await RedisStore.connect({ ...STORE_SETTINGS, engine: 'redis', url: server.url, tuning: { historyForm: 'hash' } });
});
after(async () => {
  await sorted.close();
  await hashed.close();
  await server.stop();
});

const historyKey = (sessionId: string): string => `ts:{${sessionId}}:h`;
const typeOf = async (sessionId: string): Promise<string> => String(await server.command('TYPE', historyKey(sessionId)));

/** A view, or a batch of replicated views (several entries, ties and entries older than the kept ones). */
type Step =
  | { readonly kind: 'view'; readonly by: 'sorted' | 'hashed'; readonly productId: string; readonly at: number }
  | { readonly kind: 'replicated'; readonly by: 'sorted' | 'hashed'; readonly items: Readonly<Record<string, number>> };

const atArb = fc.integer({ min: 0, max: 6 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('view' as const), by: fc.constantFrom('sorted' as const, 'hashed' as const), productId: fc.constantFrom(...PRODUCTS), at: atArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('replicated' as const),
      by: fc.constantFrom('sorted' as const, 'hashed' as const),
      items: fc.dictionary(fc.constantFrom(...PRODUCTS), atArb, { minKeys: 1, maxKeys: 5 }),
    }),
  },
);

async function run(store: SessionStore, session: SignedIn, step: Step, base: number): Promise<void> {
  if (step.kind === 'view') {
    await applied(store, session.id, session.caller, { kind: 'history.add', productId: step.productId, viewedAt: base + step.at });
    return;
  }
  const items = Object.fromEntries(Object.entries(step.items).map(([productId, at]) => [productId, base + at]));
  const [report] = await store.merge([{ sessionId: session.id, part: 'history', state: { items }, hlc: stamp(), origin: 'us' }], Date.now());
  assert.equal(report?.outcome, 'merged', JSON.stringify(report));
}

async function historyOf(store: SessionStore, sessionId: string): Promise<{ items: Record<string, number>; version: string }> {
  const loaded = await loadAll(store, sessionId);
  return { items: { ...loaded.history!.items }, version: loaded.versions.history };
}

describe('a history kept as a sorted set or as a hash (D93)', { timeout: 120_000 }, () => {
  it('loads the same history and version as the TypeScript join, whichever form each step was written in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), async (steps) => {
        const base = Date.now() - 60_000;
        // Written by either store, by the sorted-set store only, and by the hash store only.
        const mixed = await signIn(sorted);
        const onlySorted = await signIn(sorted);
        const onlyHashed = await signIn(hashed);
        let model: HistoryState = EMPTY_HISTORY;
        for (const step of steps) {
          await run(step.by === 'sorted' ? sorted : hashed, mixed, step, base);
          await run(sorted, onlySorted, step, base);
          await run(hashed, onlyHashed, step, base);
          const items = step.kind === 'view' ? { [step.productId]: base + step.at } : Object.fromEntries(Object.entries(step.items).map(([p, at]) => [p, base + at]));
          model = mergeHistory(model, { items }, LIMIT);

          const expected = await historyOf(hashed, onlyHashed.id);
          assert.deepEqual(expected.items, { ...model.items }, 'the hash form keeps what the join keeps');
          for (const [name, store, session] of [['sorted', sorted, onlySorted], ['hashed', hashed, mixed], ['sorted', sorted, mixed]] as const) {
            assert.deepEqual(await historyOf(store, session.id), expected, `${name} store, session ${session === mixed ? 'mixed' : 'sorted only'}`);
          }
        }
        assert.equal(await typeOf(onlySorted.id), 'zset');
        assert.equal(await typeOf(onlyHashed.id), 'hash');
      }),
      { numRuns: 40 },
    );
  });

  it('turns a hash history into a sorted set at its next write, with its deadline, and not at a read', async () => {
    const session = await signIn(hashed);
    const now = Date.now();
    for (const [i, productId] of ['a', 'b', 'c', 'd'].entries()) {
      await applied(hashed, session.id, session.caller, { kind: 'history.add', productId, viewedAt: now - 1000 + i });
    }
    assert.equal(await typeOf(session.id), 'hash');
    const before = await historyOf(hashed, session.id);
    assert.deepEqual(Object.keys(before.items).sort(), ['b', 'c', 'd']);
    const deadline = Number(await server.command('PEXPIRETIME', historyKey(session.id)));
    assert.ok(deadline > Date.now(), 'the history has a deadline');

    // A read (a no-writes function) reads the hash as it is.
    assert.deepEqual(await historyOf(sorted, session.id), before);
    assert.equal(await typeOf(session.id), 'hash');
    // A write of another part leaves the history alone.
    await applied(sorted, session.id, session.caller, { kind: 'cart.add', sku: 'A', quantity: 1 });
    assert.equal(await typeOf(session.id), 'hash');

    // A view turns it into a sorted set: the oldest goes, the rest and the deadline stay.
    await applied(sorted, session.id, session.caller, { kind: 'history.add', productId: 'e', viewedAt: now });
    assert.equal(await typeOf(session.id), 'zset');
    const after = await historyOf(sorted, session.id);
    assert.deepEqual(after.items, { c: now - 998, d: now - 997, e: now });
    // Still a deadline: the one it had, or a later one on the expiry grid (the view slid the session's).
    const converted = Number(await server.command('PEXPIRETIME', historyKey(session.id)));
    assert.ok(converted >= deadline, `deadline ${converted} after the change, ${deadline} before`);
    // The placeholder that keeps an empty part's key in place went along, scored +inf: last.
    const members = (await server.command('ZRANGE', historyKey(session.id), 0, -1, 'WITHSCORES')) as string[];
    assert.deepEqual([members.length, members[7]], [8, 'inf']);
    // The hash store still reads and writes it, as a sorted set.
    await applied(hashed, session.id, session.caller, { kind: 'history.add', productId: 'c', viewedAt: now + 1 });
    assert.deepEqual((await historyOf(sorted, session.id)).items, { c: now + 1, d: now - 997, e: now });
    assert.equal(await typeOf(session.id), 'zset');
  });

  it('converts and trims a history longer than one call takes (1,200 views, 1,000 values a call)', async () => {
    const BIG = 1_200;
    const open = (historyItems: number, historyForm: 'zset' | 'hash') =>
      RedisStore.connect({ ...settings({ historyItems }), engine: 'redis', url: server.url, tuning: { historyForm } });
    const [longHashed, longSorted, shortSorted, shortHashed] = await Promise.all([open(BIG, 'hash'), open(BIG, 'zset'), open(LIMIT, 'zset'), open(LIMIT, 'hash')]);
    try {
      const base = Date.now() - 10 * BIG;
      const views = Object.fromEntries(Array.from({ length: BIG }, (_, i) => [`v${i}`, base + i]));
      for (const [writer, trimmer] of [[longHashed, shortHashed], [longHashed, shortSorted]] as const) {
        const session = await signIn(writer);
        const [report] = await writer.merge([{ sessionId: session.id, part: 'history', state: { items: views }, hlc: stamp(), origin: 'us' }], Date.now());
        assert.equal(report?.outcome, 'merged');
        assert.equal(Object.keys((await historyOf(longSorted, session.id)).items).length, BIG);
        // A store that keeps fewer drops all but its newest in one write (and converts first, when it keeps sorted sets).
        await applied(trimmer, session.id, session.caller, { kind: 'history.add', productId: 'newest', viewedAt: base + BIG });
        assert.deepEqual((await historyOf(trimmer, session.id)).items, { newest: base + BIG, [`v${BIG - 1}`]: base + BIG - 1, [`v${BIG - 2}`]: base + BIG - 2 });
        assert.equal(await typeOf(session.id), trimmer === shortSorted ? 'zset' : 'hash');
      }
      // A long sorted-set history converted by the long store keeps every view.
      const session = await signIn(longHashed);
      await longHashed.merge([{ sessionId: session.id, part: 'history', state: { items: views }, hlc: stamp(), origin: 'us' }], Date.now());
      await applied(longSorted, session.id, session.caller, { kind: 'history.add', productId: 'v0', viewedAt: base + BIG });
      assert.equal(await typeOf(session.id), 'zset');
      assert.deepEqual((await historyOf(longHashed, session.id)).items, { ...views, v0: base + BIG });
    } finally {
      await Promise.all([longHashed, longSorted, shortSorted, shortHashed].map((store) => store.close()));
    }
  });

  it('makes a new session\'s history in the form its store keeps', async () => {
    const bySorted = await signIn(sorted);
    const byHashed = await signIn(hashed);
    assert.equal(await typeOf(bySorted.id), 'zset');
    assert.equal(await typeOf(byHashed.id), 'hash');
    assert.deepEqual((await historyOf(hashed, bySorted.id)).items, {});
    assert.deepEqual((await historyOf(sorted, byHashed.id)).items, {});
  });
});

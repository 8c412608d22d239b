import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EMPTY_HISTORY, historyItems, mergeHistory, trimHistory, type HistoryState } from '../../src/domain/history.js';
import { BASE_TIME, canonical, productArb, Region } from './support.js';

const at = (seconds: number): number => BASE_TIME + seconds * 1_000;
const iso = (seconds: number): string => new Date(at(seconds)).toISOString();

describe('browsing history conflict rules', () => {
  test('keeps one entry per product, at its latest view', () => {
    const merged = mergeHistory({ items: { p1: at(1), p2: at(5) } }, { items: { p1: at(9), p2: at(3) } }, 10);
    assert.deepStrictEqual(historyItems(merged), [
      { productId: 'p1', viewedAt: iso(9) },
      { productId: 'p2', viewedAt: iso(5) },
    ]);
  });

  test('is the union of both sides, newest first, ties by product id', () => {
    const merged = mergeHistory({ items: { b: at(2), c: at(1) } }, { items: { a: at(2), d: at(3) } }, 10);
    assert.deepStrictEqual(historyItems(merged).map((i) => i.productId), ['d', 'a', 'b', 'c']);
  });

  test('keeps only the newest N products', () => {
    const merged = mergeHistory({ items: { a: at(1), b: at(2), c: at(3) } }, { items: { d: at(4), e: at(0) } }, 3);
    assert.deepStrictEqual(historyItems(merged).map((i) => i.productId), ['d', 'c', 'b']);
  });

  test('an old view of a trimmed product arriving late does not bring it back', () => {
    const trimmed = mergeHistory({ items: { a: at(1), b: at(2), c: at(3) } }, EMPTY_HISTORY, 2);
    assert.deepStrictEqual(canonical(mergeHistory(trimmed, { items: { a: at(1) } }, 2)), canonical(trimmed));
  });

  test('views appended in two regions merge into one history', () => {
    const eu = new Region('eu');
    const us = eu.peer('us');
    const a = [eu.do({ kind: 'history.add', productId: 'p1', viewedAt: at(1) }), eu.do({ kind: 'history.add', productId: 'p2', viewedAt: at(3) })];
    const b = [us.do({ kind: 'history.add', productId: 'p1', viewedAt: at(2) }), us.do({ kind: 'history.add', productId: 'p3', viewedAt: at(4) })];
    eu.receive(...b);
    us.receive(...a);
    for (const region of [eu, us]) {
      assert.deepStrictEqual(historyItems(region.state.history).map((i) => i.productId), ['p3', 'p2', 'p1'], region.origin);
    }
    assert.equal(historyItems(eu.state.history)[2]?.viewedAt, iso(2));
  });

  test('an append produces a record of that one view', () => {
    const eu = new Region('eu');
    const [record] = eu.do({ kind: 'history.add', productId: 'p1', viewedAt: at(1) });
    assert.deepStrictEqual(record?.state, { items: { p1: at(1) } });
  });
});

describe('history trimming', () => {
  const historyArb: fc.Arbitrary<HistoryState> = fc
    .array(fc.tuple(productArb, fc.integer({ min: 0, max: 20 })), { maxLength: 12 })
    .map((entries) => ({ items: Object.fromEntries(entries.map(([id, s]) => [id, at(s)])) }));

  test('trimming before or after the merge gives the same history', () => {
    fc.assert(
      fc.property(historyArb, historyArb, fc.integer({ min: 0, max: 6 }), (x, y, limit) => {
        const early = mergeHistory(trimHistory(x, limit), trimHistory(y, limit), limit);
        const late = mergeHistory(x, y, Number.MAX_SAFE_INTEGER);
        assert.deepStrictEqual(canonical(early), canonical(trimHistory(late, limit)));
        assert.ok(Object.keys(early.items).length <= limit);
      }),
      { numRuns: 300 },
    );
  });

  test('a join keeps exactly the first `limit` entries of all of them sorted newest first, ties by product id', () => {
    // Few distinct times: ties decide which entry goes, whether one goes (a scan) or many (a sort).
    const views = fc.dictionary(fc.constantFrom('a', 'b', 'B', 'ab', 'é', 'z', '0', '__proto__', 'p1', 'p2', 'p10'), fc.integer({ min: 0, max: 3 }).map(at), { maxKeys: 11 });
    fc.assert(
      fc.property(views, views, fc.integer({ min: 0, max: 11 }), (x, y, limit) => {
        const all = mergeHistory({ items: x }, { items: y }, Number.MAX_SAFE_INTEGER);
        const expected = Object.keys(all.items)
          .map((id) => [id, all.items[id]!] as const)
          .sort(([p, s], [q, t]) => t - s || (p < q ? -1 : p > q ? 1 : 0))
          .slice(0, limit)
          .map(([id]) => id);
        assert.deepStrictEqual(historyItems(mergeHistory({ items: x }, { items: y }, limit)).map((i) => i.productId), expected);
      }),
      { numRuns: 1000 },
    );
  });

  test('a state within the limit is returned unchanged', () => {
    const state = { items: { a: at(1) } };
    assert.equal(trimHistory(state, 1), state);
  });
});

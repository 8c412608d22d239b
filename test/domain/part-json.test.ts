/**
 * The parts' JSON text (src/domain/part-json.ts) is built from cached pieces;
 * it must equal JSON.stringify of the public views for every reachable state,
 * including states reached by joins that keep some line objects and replace
 * others (the per-line memo), and after many renders (the time-text memo).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cartItems } from '../../src/domain/cart.js';
import { historyItems, mergeHistory, type HistoryState } from '../../src/domain/history.js';
import { cartItemsJson, historyItemsJson, historyItemsJsonAfterView, prefsJson } from '../../src/domain/part-json.js';
import { prefsObject } from '../../src/domain/prefs.js';
import { simulate, statesOf, stepsArb } from './support.js';

test('every cart, preferences and history state renders exactly as JSON.stringify of its view', () => {
  fc.assert(
    fc.property(stepsArb(['cart', 'prefs', 'history'], 40), (steps) => {
      const sim = simulate(steps);
      // Each replica's states in turn: later ones share line objects with earlier ones.
      for (const cart of statesOf(sim, 'cart')) assert.equal(cartItemsJson(cart), JSON.stringify(cartItems(cart)));
      for (const prefs of statesOf(sim, 'prefs')) assert.equal(prefsJson(prefs), JSON.stringify(prefsObject(prefs)));
      for (const history of statesOf(sim, 'history')) assert.equal(historyItemsJson(history), JSON.stringify(historyItems(history)));
    }),
    { numRuns: 300 },
  );
});

test('a line object shared by two carts under different SKUs or quantities is rendered for each', () => {
  const line = { n: { eu: [2, 0] as const }, at: Date.UTC(2024, 0, 1), a: { v: { size: 'M' }, t: 'h' } };
  const one = { lines: { A: line } };
  const other = { lines: { B: line } };
  const more = { lines: { A: { ...line, n: { eu: [3, 0] as const } } } };
  for (const cart of [one, other, more, one]) assert.equal(cartItemsJson(cart), JSON.stringify(cartItems(cart)));
});

test('a history after one view joined in renders, from the text before it, exactly as rendered whole', () => {
  // Ids that look like the text around them: quotes, backslashes, commas, braces, an item's own opening.
  const ids = fc.constantFrom('a', 'b', 'P-1', 'P-12', 'x"y', 'x\\y', 'x\\', '},{"productId":"a"', ',{"productId":"', ',', 'é', '__proto__', 'constructor');
  const T0 = Date.UTC(2026, 0, 1);
  const history = fc.dictionary(ids, fc.integer({ min: 0, max: 20 }).map((n) => T0 + n * 1000), { maxKeys: 13 });
  let shortcuts = 0;
  fc.assert(
    fc.property(history, fc.integer({ min: 1, max: 8 }), ids, fc.integer({ min: -5, max: 25 }), (items, limit, productId, at) => {
      const before = mergeHistory({ items: {} }, { items }, limit);
      const viewedAt = T0 + at * 1000;
      const after = mergeHistory(before, { items: { [productId]: viewedAt } }, limit);
      const json = historyItemsJsonAfterView(historyItemsJson(before), before, after, productId, viewedAt);
      const newest = Object.values(before.items).every((t) => t < viewedAt);
      // Taken whenever the view is the newest, and then exact.
      assert.equal(json !== null, newest);
      if (json !== null) {
        shortcuts += 1;
        assert.equal(json, historyItemsJson(after));
      }
    }),
    { numRuns: 2000 },
  );
  assert.ok(shortcuts > 200, `${shortcuts} of 2000 cases took the shortcut`);
});

test('a view newer than the rest keeps the text of the items it did not touch', () => {
  const t = Date.UTC(2026, 0, 1);
  const before: HistoryState = { items: { a: t, b: t + 1000, c: t + 2000 } };
  const view = (items: HistoryState, productId: string, viewedAt: number, limit: number) => {
    const after = mergeHistory(items, { items: { [productId]: viewedAt } }, limit);
    return { after, json: (text: string) => historyItemsJsonAfterView(text, items, after, productId, viewedAt) };
  };
  // The text of "a" marked: kept as it is (not rendered again) only by the shortcut.
  const marked = historyItemsJson(before).replace('"productId":"a"', '"productId":"A"');
  const again = view(before, 'b', t + 5000, 3);
  assert.equal(again.json(marked)?.includes('"productId":"A"'), true);
  assert.equal(again.json(historyItemsJson(before)), historyItemsJson(again.after));
  // A full history: the new view's item first, the oldest gone.
  const full = view(before, 'd', t + 9000, 3);
  assert.deepEqual(JSON.parse(full.json(historyItemsJson(before))!).map((i: { productId: string }) => i.productId), ['d', 'c', 'b']);
  // A view older than the newest, and a view the history already had later: rendered whole.
  assert.equal(view(before, 'z', t + 1500, 4).json(marked), null);
  assert.equal(view(before, 'c', t + 1000, 3).json(marked), null);
});

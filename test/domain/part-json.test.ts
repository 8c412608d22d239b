/**
 * The parts' JSON text (src/domain/part-json.ts) is built from cached pieces;
 * it must equal JSON.stringify of the public views for every reachable state,
 * including states reached by joins that keep some line objects and replace
 * others (the per-line memo), and after many renders (the time-text memo).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cartItems, mergeCart, setLineQuantity, withAttributes, type CartState } from '../../src/domain/cart.js';
import { historyItems, mergeHistory, type HistoryState } from '../../src/domain/history.js';
import { cartAfterLineChange, cartItemsJson, historyItemsJson, historyItemsJsonAfterView, prefsJson, renderCart } from '../../src/domain/part-json.js';
import { ownValue } from '../../src/domain/own.js';
import { prefsObject } from '../../src/domain/prefs.js';
import { BASE_TIME, simulate, statesOf, stepsArb } from './support.js';

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

test('a cart with one line changed, spliced into the text of the cart before, renders exactly as rendered whole', () => {
  // SKUs that look like the text around them, and one that is a key of Object.prototype.
  const skus = fc.constantFrom('A', 'B', 'C', 'D', 'E', 'x"y', 'x\\', '},{"sku":"A"', ',{"sku":"', '__proto__', 'é');
  const change = fc.record({
    sku: skus,
    quantity: fc.integer({ min: 0, max: 4 }),
    // When a line new to the cart is first added: mostly after every other line, sometimes before some.
    secondsAfter: fc.integer({ min: -3, max: 40 }),
    attributes: fc.option(fc.dictionary(fc.constantFrom('size', 'note', 'sku', 'quantity'), fc.string({ maxLength: 6 }), { maxKeys: 3 })),
    // A record from another replica that saw the line first added earlier: the join moves the item up.
    addedEarlierElsewhere: fc.boolean(),
  });
  let spliced = 0;
  let whole = 0;
  fc.assert(
    fc.property(stepsArb(['cart'], 20), fc.array(change, { minLength: 1, maxLength: 15 }), (steps, changes) => {
      const starts = statesOf(simulate(steps), 'cart');
      for (const start of [{ lines: {} }, starts[starts.length - 1] ?? { lines: {} }] as CartState[]) {
        let state = start;
        let rendered = renderCart(state);
        for (const [i, { sku, quantity, secondsAfter, attributes, addedEarlierElsewhere }] of changes.entries()) {
          const now = BASE_TIME + (i * 10 + secondsAfter) * 1000;
          const set = setLineQuantity(ownValue(state.lines, sku), 'eu', quantity, now);
          const line = addedEarlierElsewhere ? { ...set, at: set.at - 15_000 } : set;
          const after = mergeCart(state, { lines: { [sku]: attributes === null ? line : withAttributes(line, attributes, `h${i}`) } });
          const expected = renderCart(after);
          assert.equal(expected.json, JSON.stringify(cartItems(after)));
          const next = cartAfterLineChange(rendered, state, after, sku);
          if (next === null) whole += 1;
          else {
            spliced += 1;
            assert.deepEqual({ json: next.json, skus: [...next.skus], starts: [...next.starts] }, { ...expected, skus: [...expected.skus], starts: [...expected.starts] });
          }
          state = after;
          rendered = next ?? expected;
        }
      }
    }),
    { numRuns: 400 },
  );
  // Both ways are taken, the splice far more often.
  assert.ok(spliced > 2000 && whole > 20, `${spliced} spliced, ${whole} rendered whole`);
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

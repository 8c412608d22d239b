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
import { historyItems } from '../../src/domain/history.js';
import { cartItemsJson, historyItemsJson, prefsJson } from '../../src/domain/part-json.js';
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

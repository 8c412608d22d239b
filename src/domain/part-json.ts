/**
 * The JSON text of each data part as callers see it (the API v1 shapes), made
 * once per state object. States are never mutated, and the L1 cache hands out
 * the same state object until its part changes, so a part is serialized once
 * per change however often it is read; the cache also sizes its entries by
 * this text.
 */
import { cartItems, type CartState } from './cart.js';
import { historyItems, type HistoryState } from './history.js';
import { prefsObject, type PrefsState } from './prefs.js';

function memoized<S extends object>(render: (state: S) => string): (state: S) => string {
  const memo = new WeakMap<S, string>();
  return (state) => {
    let json = memo.get(state);
    if (json === undefined) {
      json = render(state);
      memo.set(state, json);
    }
    return json;
  };
}

/** The cart's items, in the order first added: `[{ sku, quantity, addedAt, attributes? }…]`. */
export const cartItemsJson = memoized((state: CartState) => JSON.stringify(cartItems(state)));

/** The preferences object, keys in code-unit order. */
export const prefsJson = memoized((state: PrefsState) => JSON.stringify(prefsObject(state)));

/** The viewed products, newest first: `[{ productId, viewedAt }…]`. */
export const historyItemsJson = memoized((state: HistoryState) => JSON.stringify(historyItems(state)));

/**
 * The JSON text of each data part as callers see it (the API v1 shapes), made
 * once per state object. States are never mutated, and the L1 cache hands out
 * the same state object until its part changes, so a part is serialized once
 * per change however often it is read; the cache also sizes its entries by
 * this text.
 *
 * Invariant: each function returns exactly `JSON.stringify` of the matching
 * view (`cartItems`, `prefsObject`, `historyItems`); a property test holds
 * them to it. The cart and history are built from pieces that a change leaves
 * alone — a cart line the join kept, a time already formatted — because every
 * write answers with the whole part.
 */
import { liveLines, type CartLineState, type CartState } from './cart.js';
import { isoTime } from './iso-time.js';
import { historyEntries, type HistoryState } from './history.js';
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

/** ISO 8601 text of recent epoch times: a history of 100 views re-renders 99 of them on every view. */
const isoTexts = new Map<number, string>();
const ISO_TEXTS_KEPT = 100_000;

function rememberedIsoTime(ms: number): string {
  let text = isoTexts.get(ms);
  if (text === undefined) {
    if (isoTexts.size >= ISO_TEXTS_KEPT) isoTexts.clear();
    text = isoTime(ms);
    isoTexts.set(ms, text);
  }
  return text;
}

/** A cart line's item JSON, per line state object (a join keeps the lines it did not touch). */
const lineTexts = new WeakMap<CartLineState, { readonly sku: string; readonly quantity: number; readonly json: string }>();

function lineJson(sku: string, line: CartLineState, quantity: number): string {
  const known = lineTexts.get(line);
  if (known !== undefined && known.sku === sku && known.quantity === quantity) return known.json;
  let json = `{"sku":${JSON.stringify(sku)},"quantity":${quantity},"addedAt":"${rememberedIsoTime(line.at)}"`;
  if (line.a) json += `,"attributes":${JSON.stringify(line.a.v)}`;
  json += '}';
  lineTexts.set(line, { sku, quantity, json });
  return json;
}

/** The cart's items, in the order first added: `[{ sku, quantity, addedAt, attributes? }…]`. */
export const cartItemsJson = memoized(
  (state: CartState) => `[${liveLines(state).map(([sku, line, quantity]) => lineJson(sku, line, quantity)).join(',')}]`,
);

/** The preferences object, keys in code-unit order. */
export const prefsJson = memoized((state: PrefsState) => JSON.stringify(prefsObject(state)));

/** The viewed products, newest first: `[{ productId, viewedAt }…]`. */
export const historyItemsJson = memoized(
  (state: HistoryState) =>
    `[${historyEntries(state).map(([productId, viewedAt]) => `{"productId":${JSON.stringify(productId)},"viewedAt":"${rememberedIsoTime(viewedAt)}"}`).join(',')}]`,
);

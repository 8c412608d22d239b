/**
 * The JSON text of each data part as callers see it (the API v1 shapes).
 *
 * Invariant: each function returns exactly `JSON.stringify` of the matching
 * view (`cartItems`, `prefsObject`, `historyItems`); a property test holds
 * them to it.
 *
 * Nothing here remembers a text per state object. A part is rendered where it
 * is made (L1 keeps the text with its entry, and hands it to the answer as
 * `LoadedSession.rendered`), so each state is rendered once anyway. Memos in
 * `WeakMap`s (per state, and per cart line) cost a write more than rendering
 * the part afresh: 9–10 µs against 2–3 µs for a cart of five lines, mostly the
 * garbage collector's work on the maps' entries (docs/PERFORMANCE.md,
 * "WeakMaps on the write path").
 */
import { liveLines, type CartState } from './cart.js';
import { isoTime } from './iso-time.js';
import { historyEntries, type HistoryState } from './history.js';
import { prefsObject, type PrefsState } from './prefs.js';

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

/** The cart's items, in the order first added: `[{ sku, quantity, addedAt, attributes? }…]`. */
export function cartItemsJson(state: CartState): string {
  return `[${liveLines(state)
    .map(([sku, line, quantity]) => {
      const attributes = line.a ? `,"attributes":${JSON.stringify(line.a.v)}` : '';
      return `{"sku":${JSON.stringify(sku)},"quantity":${quantity},"addedAt":"${rememberedIsoTime(line.at)}"${attributes}}`;
    })
    .join(',')}]`;
}

/** The preferences object, keys in code-unit order. */
export function prefsJson(state: PrefsState): string {
  return JSON.stringify(prefsObject(state));
}

/** The viewed products, newest first: `[{ productId, viewedAt }…]`. */
export function historyItemsJson(state: HistoryState): string {
  return `[${historyEntries(state)
    .map(([productId, viewedAt]) => `{"productId":${JSON.stringify(productId)},"viewedAt":"${rememberedIsoTime(viewedAt)}"}`)
    .join(',')}]`;
}

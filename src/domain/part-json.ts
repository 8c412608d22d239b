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
import { liveLines, quantityOf, type CartLineState, type CartState } from './cart.js';
import { isoTime } from './iso-time.js';
import { historyEntries, type HistoryState } from './history.js';
import { ownValue } from './own.js';
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

function cartItemJson(sku: string, line: CartLineState, quantity: number): string {
  const attributes = line.a ? `,"attributes":${JSON.stringify(line.a.v)}` : '';
  return `{"sku":${JSON.stringify(sku)},"quantity":${quantity},"addedAt":"${rememberedIsoTime(line.at)}"${attributes}}`;
}

/** The cart's items, in the order first added: `[{ sku, quantity, addedAt, attributes? }…]`. */
export function cartItemsJson(state: CartState): string {
  return renderCart(state).json;
}

/**
 * A cart's JSON (`cartItemsJson`) with where each item starts in it, so that
 * a write that changes one line can splice that line's item into the text
 * (`cartAfterLineChange`) instead of rendering every line again.
 */
export interface RenderedCart {
  readonly json: string;
  /** The live lines' SKUs, in the order of their items. */
  readonly skus: readonly string[];
  /** Where each item starts in `json`; an item ends at the comma before the next one, or at the closing `]`. */
  readonly starts: readonly number[];
}

export function renderCart(state: CartState): RenderedCart {
  const skus: string[] = [];
  const starts: number[] = [];
  const items: string[] = [];
  let at = 1;
  for (const [sku, line, quantity] of liveLines(state)) {
    const item = cartItemJson(sku, line, quantity);
    skus.push(sku);
    starts.push(at);
    items.push(item);
    at += item.length + 1;
  }
  return { json: `[${items.join(',')}]`, skus, starts };
}

/**
 * `renderCart(after)` from `before` — `renderCart` of `beforeState` — when
 * `after` is `beforeState` with the line of `sku` changed and no other: a
 * cart add, set or remove. The line's item is replaced where it stands (its
 * time of first add, which orders the items, unchanged), taken out (no longer
 * live), or added last (first added after every other line, as a line new to
 * the cart is); every other item's text is kept, unread. Null when the item
 * would move, or go anywhere but last: render whole.
 *
 * In the server, rendering a cart of a dozen lines with a few attributes each
 * took 40–60 µs, a fifth of a cart write's CPU (docs/PERFORMANCE.md, "A cart
 * write spliced into the cart's text").
 */
export function cartAfterLineChange(before: RenderedCart, beforeState: CartState, after: CartState, sku: string): RenderedCart | null {
  const { json, skus, starts } = before;
  const line = ownValue(after.lines, sku);
  const quantity = quantityOf(line);
  const index = skus.indexOf(sku);
  if (index === -1) {
    if (quantity === 0) return before;
    const count = skus.length;
    if (count === 0) return { json: `[${cartItemJson(sku, line!, quantity)}]`, skus: [sku], starts: [1] };
    const lastSku = skus[count - 1]!;
    const lastAt = ownValue(after.lines, lastSku)!.at;
    if (line!.at < lastAt || (line!.at === lastAt && sku < lastSku)) return null;
    return { json: `${json.slice(0, -1)},${cartItemJson(sku, line!, quantity)}]`, skus: [...skus, sku], starts: [...starts, json.length] };
  }
  const start = starts[index]!;
  const last = index === skus.length - 1;
  const end = last ? json.length - 1 : starts[index + 1]! - 1;
  if (quantity === 0) {
    if (skus.length === 1) return { json: '[]', skus: [], starts: [] };
    const cut = last ? json.slice(0, start - 1) + ']' : json.slice(0, start) + json.slice(end + 1);
    const shift = last ? 0 : end + 1 - start;
    return {
      json: cut,
      skus: skus.filter((_, i) => i !== index),
      starts: starts.filter((_, i) => i !== index).map((at, i) => (i >= index ? at - shift : at)),
    };
  }
  if (line!.at !== ownValue(beforeState.lines, sku)?.at) return null;
  const item = cartItemJson(sku, line!, quantity);
  const shift = item.length - (end - start);
  return {
    json: json.slice(0, start) + item + json.slice(end),
    skus,
    starts: shift === 0 ? starts : starts.map((at, i) => (i > index ? at + shift : at)),
  };
}

/** The preferences object, keys in code-unit order. */
export function prefsJson(state: PrefsState): string {
  return JSON.stringify(prefsObject(state));
}

const historyItemJson = (productId: string, viewedAt: number): string =>
  `{"productId":${JSON.stringify(productId)},"viewedAt":"${rememberedIsoTime(viewedAt)}"}`;

/** The viewed products, newest first: `[{ productId, viewedAt }…]`. */
export function historyItemsJson(state: HistoryState): string {
  return `[${historyEntries(state)
    .map(([productId, viewedAt]) => historyItemJson(productId, viewedAt))
    .join(',')}]`;
}

/**
 * Where each item's text starts, after the first. A quote inside a product id
 * is escaped (`\"`), so this text occurs only between items.
 */
const ITEM_START = ',{"productId":"';
const VIEWED_AT = ',"viewedAt":"';

/**
 * `historyItemsJson(after)` from `beforeJson` — `historyItemsJson(before)` —
 * when `after` is `before` with one view joined in (`productId` at
 * `viewedAt`) newer than every view before it: a shopper viewing a product
 * now. That item goes first; the product's earlier item leaves, and so does
 * the last (oldest) item when the join dropped it; no other item moves, so the
 * rest of the text is kept as it is. Null when that does not hold: render whole.
 *
 * It reads `before` and `after` only at the keys it names, never enumerates
 * them: a history's state is an object in V8's dictionary mode (`dropOldest`
 * deletes), whose key list alone costs about 5 µs for 100 views, and rendering
 * all of them 25–45 µs (docs/PERFORMANCE.md, "A view added to a full history").
 */
export function historyItemsJsonAfterView(beforeJson: string, before: HistoryState, after: HistoryState, productId: string, viewedAt: number): string | null {
  if (ownValue(after.items, productId) !== viewedAt) return null;
  const first = historyItemJson(productId, viewedAt);
  if (beforeJson === '[]') return `[${first}]`;
  const newest = firstViewedAt(beforeJson);
  if (newest === null || newest >= viewedAt) return null;
  let rest: string | null = beforeJson.slice(1, -1);
  const earlier = ownValue(before.items, productId);
  if (earlier !== undefined) {
    rest = withoutItem(rest, historyItemJson(productId, earlier));
  } else {
    // The join may have dropped the oldest to make room: the last item, the only one that can go.
    const last = rest.lastIndexOf(ITEM_START);
    const dropped = (JSON.parse(last === -1 ? rest : rest.slice(last + 1)) as { productId: string }).productId;
    if (ownValue(after.items, dropped) === undefined) rest = withoutItem(rest, historyItemJson(dropped, before.items[dropped]!));
  }
  if (rest === null) return null;
  return rest === '' ? `[${first}]` : `[${first},${rest}]`;
}

/** The view time of a rendered history's first (newest) item; null when the text is not as rendered. */
function firstViewedAt(json: string): number | null {
  // The product id's closing quote: the first quote after `[{"productId":"` not escaped by a backslash.
  let at = 15;
  while (at < json.length && json[at] !== '"') at += json[at] === '\\' ? 2 : 1;
  if (!json.startsWith(VIEWED_AT, at + 1)) return null;
  const start = at + 1 + VIEWED_AT.length;
  const ms = Date.parse(json.slice(start, json.indexOf('"', start)));
  return Number.isFinite(ms) ? ms : null;
}

/** The items' text (`a,b,c`) without `item`; null when it is not one of them. */
function withoutItem(items: string, item: string): string | null {
  const at = items.indexOf(item);
  if (at === -1) return null;
  const end = at + item.length;
  if (at > 0 && items[at - 1] !== ',') return null;
  if (end < items.length && items[end] !== ',') return null;
  if (at === 0) return items.slice(end + 1);
  return items.slice(0, at - 1) + items.slice(end);
}

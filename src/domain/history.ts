/**
 * Browsing history: viewed products, deduplicated, newest kept.
 *
 * The state maps product id → last view (epoch ms). The join takes the later
 * view per product and then keeps the newest `limit` entries, ordered by
 * (viewedAt desc, productId asc). Trimming commutes with the join because an
 * entry dropped from one side has `limit` entries above it that only move up.
 *
 * Invariants: at most `limit` entries; views never move back in time.
 */
import { dictionary, ownValue, setOwn } from './own.js';

export interface HistoryState {
  readonly items: Readonly<Record<string, number>>;
}

export interface HistoryItem {
  readonly productId: string;
  readonly viewedAt: string;
}

export const EMPTY_HISTORY: HistoryState = Object.freeze({ items: Object.freeze({}) });

type Entry = [productId: string, viewedAt: number];

// Indexing, not destructuring parameters: a comparator runs hundreds of times per sort.
function newestFirst(a: Entry, b: Entry): number {
  const byTime = b[1] - a[1];
  if (byTime !== 0) return byTime;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

// Object.keys, spread and delete, not Object.entries/fromEntries: those cost 10–25 µs per
// hundred entries, and so does building an object of a hundred keys one key at a time.
function entriesOf(items: HistoryState['items']): Entry[] {
  const keys = Object.keys(items);
  const entries = new Array<Entry>(keys.length);
  for (let i = 0; i < keys.length; i += 1) entries[i] = [keys[i]!, items[keys[i]!]!];
  return entries;
}

/** Whether entry (p, at) comes after (q, bt) in (viewedAt desc, productId asc) order: the one to drop first. */
function isOlder(p: string, at: number, q: string, bt: number): boolean {
  return at < bt || (at === bt && p > q);
}

/**
 * A private copy of `items` in dictionary mode (`own.ts`: no hidden class per
 * combination of product ids, which a spread builds again at every view), and
 * its oldest entry (last in the history's order), found on the way instead of
 * by scanning every key again.
 */
function copyItems(items: HistoryState['items']): { copy: Record<string, number>; size: number; oldest: string; oldestAt: number } {
  const copy = dictionary<number>();
  const keys = Object.keys(items);
  let oldest = '';
  let oldestAt = Infinity;
  for (let i = 0; i < keys.length; i += 1) {
    const productId = keys[i]!;
    const viewedAt = items[productId]!;
    setOwn(copy, productId, viewedAt);
    if (isOlder(productId, viewedAt, oldest, oldestAt)) {
      oldest = productId;
      oldestAt = viewedAt;
    }
  }
  return { copy, size: keys.length, oldest, oldestAt };
}

/** Deletes all but the newest `limit` entries of a private copy. */
function dropOldest(items: Record<string, number>, limit: number): void {
  const keys = Object.keys(items);
  const excess = keys.length - limit;
  if (excess <= 0) return;
  if (excess > 8) {
    for (const [productId] of entriesOf(items).sort(newestFirst).slice(limit)) delete items[productId];
    return;
  }
  // A few too many: find the oldest by scanning the keys, not sorting or copying them all.
  for (let n = 0; n < excess; n += 1) {
    let oldest = '';
    let oldestAt = Infinity;
    for (const productId of keys) {
      const viewedAt = ownValue(items, productId);
      if (viewedAt !== undefined && isOlder(productId, viewedAt, oldest, oldestAt)) {
        oldest = productId;
        oldestAt = viewedAt;
      }
    }
    delete items[oldest];
  }
}

/** The state with only its newest `limit` entries. */
export function trimHistory(state: HistoryState, limit: number): HistoryState {
  if (Object.keys(state.items).length <= limit) return state;
  const { copy } = copyItems(state.items);
  dropOldest(copy, limit);
  return { items: copy };
}

export function mergeHistory(x: HistoryState, y: HistoryState, limit: number): HistoryState {
  const { copy: items, size, oldest, oldestAt } = copyItems(x.items);
  // The later view of each product in y. The entry to drop, when one must go (a view added to a
  // full history), is x's oldest or one of y's taken here — unless y moved x's oldest.
  let entries = size;
  let drop = oldest;
  let dropAt = oldestAt;
  let known = true;
  for (const productId of Object.keys(y.items)) {
    const viewedAt = y.items[productId]!;
    const mine = ownValue(items, productId);
    if (mine !== undefined && viewedAt <= mine) continue;
    setOwn(items, productId, viewedAt);
    if (mine === undefined) entries += 1;
    if (productId === oldest) known = false;
    if (isOlder(productId, viewedAt, drop, dropAt)) {
      drop = productId;
      dropAt = viewedAt;
    }
  }
  if (entries > limit) {
    if (entries === limit + 1 && known) delete items[drop];
    else dropOldest(items, limit);
  }
  return { items };
}

/** `[productId, viewedAt]` of every entry, newest first (ties by product id). */
export function historyEntries(state: HistoryState): Array<[string, number]> {
  return entriesOf(state.items).sort(newestFirst);
}

export function historyItems(state: HistoryState): HistoryItem[] {
  return historyEntries(state).map(([productId, viewedAt]) => ({ productId, viewedAt: new Date(viewedAt).toISOString() }));
}

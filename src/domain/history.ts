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
export interface HistoryState {
  readonly items: Readonly<Record<string, number>>;
}

export interface HistoryItem {
  readonly productId: string;
  readonly viewedAt: string;
}

export const EMPTY_HISTORY: HistoryState = Object.freeze({ items: Object.freeze({}) });

function newestFirst([p, tp]: [string, number], [q, tq]: [string, number]): number {
  return tq - tp || (p < q ? -1 : p > q ? 1 : 0);
}

export function trimHistory(state: HistoryState, limit: number): HistoryState {
  const entries = Object.entries(state.items);
  if (entries.length <= limit) return state;
  const excess = entries.length - limit;
  if (excess > 8) return { items: Object.fromEntries(entries.sort(newestFirst).slice(0, limit)) };
  // A view added to a full history: drop the few oldest by scanning rather than sorting them all.
  for (let dropped = 0; dropped < excess; dropped += 1) {
    let oldest = 0;
    for (let i = 1; i < entries.length; i += 1) if (newestFirst(entries[i]!, entries[oldest]!) > 0) oldest = i;
    entries.splice(oldest, 1);
  }
  return { items: Object.fromEntries(entries) };
}

export function mergeHistory(x: HistoryState, y: HistoryState, limit: number): HistoryState {
  const items = new Map<string, number>(Object.entries(x.items));
  for (const [productId, viewedAt] of Object.entries(y.items)) {
    items.set(productId, Math.max(items.get(productId) ?? viewedAt, viewedAt));
  }
  return trimHistory({ items: Object.fromEntries(items) }, limit);
}

/** `[productId, viewedAt]` of every entry, newest first (ties by product id). */
export function historyEntries(state: HistoryState): Array<[string, number]> {
  return Object.entries(state.items).sort(newestFirst);
}

export function historyItems(state: HistoryState): HistoryItem[] {
  return historyEntries(state).map(([productId, viewedAt]) => ({ productId, viewedAt: new Date(viewedAt).toISOString() }));
}

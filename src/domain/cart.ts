/**
 * The cart: a map of lines, each a per-writer pair of grow-only counters.
 *
 * Per writer (a region, or a guest session merged in at login) a line holds
 * `[added, removed]`: how many units that writer added, and how many of those
 * have been retracted since. The quantity is Σ (added − removed). Only a writer
 * raises its own `added`; any replica may raise a writer's `removed` mark, but
 * never past the `added` it has seen. Both only grow, so the join is "keep the
 * larger" per (line, writer, counter), and concurrent edits compose:
 *   - two concurrent adds of 1 both count (+2);
 *   - a remove marks every unit it saw as retracted; units added concurrently
 *     lie beyond every mark, so they survive (add wins), and two concurrent
 *     removes mark the same units, which the join counts once;
 *   - set-quantity adds to its writer's count, or retracts units writer by
 *     writer in name order, so regions that saw the same line and set the same
 *     quantity write the same marks.
 * Within one region the store applies operations atomically, so its single
 * writer never races with itself.
 *
 * Invariants: counters are non-negative integers with removed ≤ added per
 * writer, so no quantity is negative; `addedAt` is the earliest add seen;
 * attributes are last-writer-wins by HLC.
 */
import { maxHlc, type Hlc } from './hlc.js';
import { ownValue, setOwn } from './own.js';

export interface CartLineState {
  /** writer → [added, removed]: units it added, and how many of those were retracted (by anyone). */
  readonly n: Readonly<Record<string, readonly [number, number]>>;
  /** Epoch milliseconds of the first add. */
  readonly at: number;
  /** Optional attributes (size, colour…), last writer wins. */
  readonly a?: { readonly v: Record<string, unknown>; readonly t: Hlc };
}

export interface CartState {
  readonly lines: Readonly<Record<string, CartLineState>>;
}

export interface CartItem {
  readonly sku: string;
  readonly quantity: number;
  readonly attributes?: Record<string, unknown>;
  readonly addedAt: string;
}

export const EMPTY_CART: CartState = Object.freeze({ lines: Object.freeze({}) });

/** Σ added − Σ removed; never negative for lines built by `setLineQuantity`. */
export function rawQuantity(line: CartLineState): number {
  let total = 0;
  for (const [added, removed] of Object.values(line.n)) total += added - removed;
  return total;
}

export function quantityOf(line: CartLineState | undefined): number {
  return line === undefined ? 0 : Math.max(0, rawQuantity(line));
}

export function mergeCartLine(x: CartLineState, y: CartLineState): CartLineState {
  const counters = new Map<string, readonly [number, number]>(Object.entries(x.n));
  for (const [writer, [added, removed]] of Object.entries(y.n)) {
    const mine = counters.get(writer);
    counters.set(writer, mine ? [Math.max(mine[0], added), Math.max(mine[1], removed)] : [added, removed]);
  }
  const n = Object.fromEntries(counters);
  const a = pickAttributes(x.a, y.a);
  return a ? { n, at: Math.min(x.at, y.at), a } : { n, at: Math.min(x.at, y.at) };
}

function pickAttributes(x: CartLineState['a'], y: CartLineState['a']): CartLineState['a'] {
  if (!x) return y;
  if (!y) return x;
  if (x.t !== y.t) return maxHlc(x.t, y.t) === x.t ? x : y;
  // Equal stamps come from one write; compare contents only to stay deterministic.
  return JSON.stringify(x.v) >= JSON.stringify(y.v) ? x : y;
}

export function mergeCart(x: CartState, y: CartState): CartState {
  // A copy (spread defines own properties), then y's lines joined in: no Object.entries round trip (own.ts).
  const lines: Record<string, CartLineState> = { ...x.lines };
  for (const sku of Object.keys(y.lines)) {
    const line = y.lines[sku]!;
    const mine = ownValue(lines, sku);
    setOwn(lines, sku, mine ? mergeCartLine(mine, line) : line);
  }
  return { lines };
}

/**
 * The line with its quantity moved to `target`: a rise is added to `writer`'s
 * count; a fall raises the `removed` marks of the writers seen, in name order,
 * each up to its `added`. Retracting seen units by mark, rather than counting
 * removals per writer, is what keeps concurrent removes from retracting a unit
 * twice (which swallowed concurrent adds, and left negative totals that later
 * adds repaid once per region).
 */
export function setLineQuantity(
  line: CartLineState | undefined,
  writer: string,
  target: number,
  now: number,
): CartLineState {
  const base: CartLineState = line ?? { n: {}, at: now };
  let delta = target - rawQuantity(base);
  if (delta === 0) return base;
  const counters = new Map<string, readonly [number, number]>(Object.entries(base.n));
  if (delta > 0) {
    const [added, removed] = counters.get(writer) ?? [0, 0];
    counters.set(writer, [added + delta, removed]);
  } else {
    for (const [name, [added, removed]] of [...counters].sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))) {
      const retract = Math.min(-delta, added - removed);
      if (retract <= 0) continue;
      counters.set(name, [added, removed + retract]);
      delta += retract;
      if (delta === 0) break;
    }
  }
  return { ...base, n: Object.fromEntries(counters) };
}

export function withAttributes(
  line: CartLineState,
  attributes: Record<string, unknown> | undefined,
  hlc: Hlc,
): CartLineState {
  return attributes === undefined ? line : { ...line, a: { v: attributes, t: hlc } };
}

/** `[sku, line, quantity]` of the lines with a positive quantity, in the order first added (ties by SKU). */
export function liveLines(state: CartState): Array<[string, CartLineState, number]> {
  const live: Array<[string, CartLineState, number]> = [];
  for (const sku of Object.keys(state.lines)) {
    const line = state.lines[sku]!;
    const quantity = quantityOf(line);
    if (quantity > 0) live.push([sku, line, quantity]);
  }
  // Numeric times and code-unit order: this runs on every cart read.
  return live.sort(([p, x], [q, y]) => x.at - y.at || (p < q ? -1 : p > q ? 1 : 0));
}

/** Lines with a positive quantity, in the order first added (ties by SKU). */
export function cartItems(state: CartState): CartItem[] {
  return liveLines(state).map(([sku, line, quantity]) => {
    const item: CartItem = { sku, quantity, addedAt: new Date(line.at).toISOString() };
    return line.a ? { ...item, attributes: line.a.v } : item;
  });
}

export function liveLineCount(state: CartState): number {
  let count = 0;
  for (const line of Object.values(state.lines)) if (quantityOf(line) > 0) count += 1;
  return count;
}

/**
 * The cart with every writer renamed to `writer`-scoped names, so that joining
 * it into another cart adds its quantities instead of taking a maximum. Used to
 * merge a guest's cart into the user's at sign-in; joining it twice is harmless.
 */
export function rebaseCart(state: CartState, scope: string): CartState {
  const lines = Object.entries(state.lines).map(([sku, line]): [string, CartLineState] => {
    const n = Object.entries(line.n).map(([writer, counters]) => [`${scope}/${writer}`, counters] as const);
    return [sku, { ...line, n: Object.fromEntries(n) }];
  });
  return { lines: Object.fromEntries(lines) };
}

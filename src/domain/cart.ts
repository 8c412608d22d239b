/**
 * The cart: a map of lines, each a per-writer pair of grow-only counters.
 *
 * A line's quantity is Σ added − Σ removed over its writers. A writer (a region,
 * or a guest session merged in at login) only ever raises its own counters, so
 * the join is "keep the larger" per (line, writer, counter) and concurrent edits
 * from different writers compose:
 *   - two concurrent adds of 1 both count (+2);
 *   - a remove only retracts the quantity its writer had observed, so an add
 *     concurrent with a remove survives it (add wins);
 *   - set-quantity moves the writer's counters by the difference it observed.
 * Within one region the store applies operations atomically, so its single
 * writer never races with itself.
 *
 * Invariants: counters are non-negative integers; `addedAt` is the earliest add
 * seen; attributes are last-writer-wins by HLC.
 */
import { maxHlc, type Hlc } from './hlc.js';

export interface CartLineState {
  /** writer → [added, removed] */
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

/** Σ added − Σ removed; may be negative after concurrent removes, shown as 0. */
export function rawQuantity(line: CartLineState): number {
  let total = 0;
  for (const [added, removed] of Object.values(line.n)) total += added - removed;
  return total;
}

export function quantityOf(line: CartLineState | undefined): number {
  return line === undefined ? 0 : Math.max(0, rawQuantity(line));
}

export function mergeCartLine(x: CartLineState, y: CartLineState): CartLineState {
  const n: Record<string, [number, number]> = {};
  for (const [writer, [added, removed]] of Object.entries(x.n)) n[writer] = [added, removed];
  for (const [writer, [added, removed]] of Object.entries(y.n)) {
    const mine = n[writer];
    n[writer] = mine ? [Math.max(mine[0], added), Math.max(mine[1], removed)] : [added, removed];
  }
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
  const lines: Record<string, CartLineState> = { ...x.lines };
  for (const [sku, line] of Object.entries(y.lines)) {
    const mine = lines[sku];
    lines[sku] = mine ? mergeCartLine(mine, line) : line;
  }
  return { lines };
}

/**
 * The counters of `writer` moved so that the line's quantity becomes `target`.
 * A negative raw quantity (concurrent removes) is first brought back to zero,
 * so an add after it counts in full.
 */
export function setLineQuantity(
  line: CartLineState | undefined,
  writer: string,
  target: number,
  now: number,
): CartLineState {
  const base: CartLineState = line ?? { n: {}, at: now };
  const delta = target - rawQuantity(base);
  if (delta === 0) return base;
  const [added, removed] = base.n[writer] ?? [0, 0];
  const counters: [number, number] = delta > 0 ? [added + delta, removed] : [added, removed - delta];
  return { ...base, n: { ...base.n, [writer]: counters } };
}

export function withAttributes(
  line: CartLineState,
  attributes: Record<string, unknown> | undefined,
  hlc: Hlc,
): CartLineState {
  return attributes === undefined ? line : { ...line, a: { v: attributes, t: hlc } };
}

/** Lines with a positive quantity, in the order first added (ties by SKU). */
export function cartItems(state: CartState): CartItem[] {
  const items: CartItem[] = [];
  for (const [sku, line] of Object.entries(state.lines)) {
    const quantity = quantityOf(line);
    if (quantity === 0) continue;
    const item: CartItem = { sku, quantity, addedAt: new Date(line.at).toISOString() };
    items.push(line.a ? { ...item, attributes: line.a.v } : item);
  }
  return items.sort((p, q) => p.addedAt.localeCompare(q.addedAt) || (p.sku < q.sku ? -1 : 1));
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
  const lines: Record<string, CartLineState> = {};
  for (const [sku, line] of Object.entries(state.lines)) {
    const n: Record<string, readonly [number, number]> = {};
    for (const [writer, counters] of Object.entries(line.n)) n[`${scope}/${writer}`] = counters;
    lines[sku] = { ...line, n };
  }
  return { lines };
}

/**
 * L1: an in-process cache of session parts in front of a remote engine.
 *
 * Correctness does not rest on invalidation messages. Every request still makes
 * its one round trip to the store, which returns metadata and devices fresh
 * (auth is never served from L1) and, for each cached part, either nothing —
 * the cached version is current — or the new state. So:
 *   - a revoke, logout or rotation is seen by every node on its next request;
 *   - a write through any node is seen by the next read through any other
 *     (read-your-writes), because the version check happens at the store;
 *   - there is no channel whose loss or reconnect could leave an entry stale.
 * What L1 saves is the bytes and decoding of large parts (carts, histories,
 * preferences of several KB), which is most of a read's cost.
 *
 * Entries are text: the part's state as JSON and its public JSON (what a read
 * answers with). A cached part is then two strings for the garbage collector
 * instead of hundreds of small objects — with tens of thousands of cached
 * sessions, those objects made major collections pause requests for 100 ms
 * and more — and its size in memory is known exactly. The state text is parsed
 * only when a caller uses the state itself (a write's join, a guest merge); a
 * read answers with the public JSON as it is (`LoadedSession.rendered`).
 *
 * A part this node has just written is the exception: its state stays parsed
 * among those written last, within an eighth of the byte budget (`#written`),
 * and its entry gets the state text only when it leaves there — a part written
 * again and again is not serialized on every write, nor parsed again.
 *
 * Invariant: an entry holds a part's state exactly as the store had it at the
 * entry's version — as text, or, while it has none, as the state `#written`
 * keeps at that same version.
 */
import { LRUCache } from 'lru-cache';
import type { Operation } from '../domain/operations.js';
import { partOf } from '../domain/operations.js';
import { mergePart, type ChangeRecord, type DataPart, type PartStates } from '../domain/parts.js';
import { cartAfterLineChange, cartItemsJson, historyItemsJson, historyItemsJsonAfterView, prefsJson, renderCart, type RenderedCart } from '../domain/part-json.js';
import type { CartState } from '../domain/cart.js';
import type { HistoryState } from '../domain/history.js';
import type { Hlc } from '../domain/hlc.js';
import type { Seen } from '../domain/devices.js';
import type {
  ApplyOptions,
  ApplyResult,
  Caller,
  CachedPart,
  CreateResult,
  KnownVersions,
  LoadedSession,
  LoadOptions,
  MergeReport,
  NewSession,
  SessionSnapshot,
  SessionStore,
} from '../store/session-store.js';
import type { ChangeFeed } from '../store/feed.js';

const CACHED_PARTS: readonly CachedPart[] = ['cart', 'prefs', 'history'];
/** The share of L1's byte budget that the parsed states of the parts written last may take besides (`#written`). */
const WRITTEN_SHARE = 1 / 8;
/**
 * Bytes of heap a parsed state takes per character of its part's JSON, about:
 * a 100-view history's state is 21.5 KB parsed against 7.4 KB of text, and its
 * public JSON is a little shorter than that text.
 */
const PARSED_BYTES_PER_CHAR = 3.5;

export interface L1Options {
  /** Most entries (one per session part). @default 100000 */
  readonly maxEntries: number;
  /** Most bytes the entries' text may take in memory. @default 268435456 (256 MiB) */
  readonly maxBytes: number;
  /** An entry unused for this long is dropped. @default 300000 (5 min) */
  readonly ttlMs: number;
}

export const DEFAULT_L1_OPTIONS: L1Options = Object.freeze({ maxEntries: 100_000, maxBytes: 256 * 1024 * 1024, ttlMs: 300_000 });

/** What the cache reports: one call per part looked up. */
export interface CacheObserver {
  lookup(part: DataPart, outcome: 'hit' | 'miss'): void;
}

interface Entry {
  readonly version: string;
  /** The part's public JSON (`domain/part-json.ts`). */
  readonly view: string;
  /**
   * The part's state as JSON; absent while `#written` holds the state itself
   * at this version, and filled in when it leaves there.
   */
  readonly state?: string;
}

/** A state kept parsed, with the version it is the state of. */
interface Parsed {
  readonly version: string;
  readonly state: PartStates[CachedPart];
  /** A cart's JSON with where each item starts: the next write to one line splices its item in. */
  readonly cart?: RenderedCart;
}

/** What a parsed state takes in memory, about: from its part's JSON, which is at hand when it is kept. */
function parsedSize(view: string, version: string): number {
  return Math.ceil(PARSED_BYTES_PER_CHAR * view.length) + version.length + 200;
}

const VIEW_JSON: { readonly [P in CachedPart]: (state: PartStates[P]) => string } = {
  cart: cartItemsJson,
  prefs: prefsJson,
  history: historyItemsJson,
};

const LATIN1 = /^[\u0000-\u00ff]*$/;

/**
 * An entry's size in memory: its two texts, and a little for the entry and its
 * key. V8 keeps a string in one byte per character when every character fits
 * in Latin-1, else in two; the state text holds every string the view does,
 * so testing it alone tells for both. An entry without state text (a part
 * just written, its state kept parsed in `#written`) counts two bytes per character
 * until it gets its text: testing the view would cost every write a pass
 * over it, and a copy first (the view is `[` + items + `]`, three pieces).
 */
function entrySize({ view, state, version }: Entry): number {
  if (state === undefined) return 2 * view.length + version.length + 160;
  return (LATIN1.test(state) ? 1 : 2) * (view.length + state.length) + version.length + 160;
}

/**
 * The loaded session with the parts L1 confirmed: their public JSON in
 * `rendered`, their state parsed from the entry's text on first use. A class,
 * so the lazy states are getters on its prototype: an object literal with
 * getters cost a read 1.6 µs to create, and `Object.defineProperty` 4 µs.
 */
class WithHits implements LoadedSession {
  readonly meta: LoadedSession['meta'];
  readonly devices: LoadedSession['devices'];
  readonly versions: LoadedSession['versions'];
  // Declared, not defined: an own `credential: undefined` would differ from an absent one.
  declare readonly credential?: LoadedSession['credential'];
  declare readonly credentialActiveAt?: LoadedSession['credentialActiveAt'];
  declare readonly credentialAuth?: LoadedSession['credentialAuth'];
  declare readonly alias?: LoadedSession['alias'];
  readonly rendered: Readonly<Partial<Record<CachedPart, string>>>;
  readonly #loaded: LoadedSession;
  readonly #hits: Hits;
  /** States kept parsed for hits without text, taken when the hit was: the entry may change after. */
  readonly #kept: Partial<PartStates>;
  #parsed: Partial<PartStates> | undefined;

  constructor(loaded: LoadedSession, hits: Hits, kept: Partial<PartStates>) {
    this.#loaded = loaded;
    this.#hits = hits;
    this.#kept = kept;
    this.meta = loaded.meta;
    this.devices = loaded.devices;
    this.versions = loaded.versions;
    if (loaded.credential !== undefined) this.credential = loaded.credential;
    if (loaded.credentialActiveAt !== undefined) this.credentialActiveAt = loaded.credentialActiveAt;
    if (loaded.credentialAuth !== undefined) this.credentialAuth = loaded.credentialAuth;
    if (loaded.alias !== undefined) this.alias = loaded.alias;
    const rendered: Partial<Record<CachedPart, string>> = { ...loaded.rendered };
    if (hits.cart !== undefined) rendered.cart = hits.cart.view;
    if (hits.prefs !== undefined) rendered.prefs = hits.prefs.view;
    if (hits.history !== undefined) rendered.history = hits.history.view;
    this.rendered = rendered;
  }

  get cart(): PartStates['cart'] | undefined {
    return this.#state('cart');
  }

  get prefs(): PartStates['prefs'] | undefined {
    return this.#state('prefs');
  }

  get history(): PartStates['history'] | undefined {
    return this.#state('history');
  }

  #state<P extends CachedPart>(part: P): PartStates[P] | undefined {
    const entry = this.#hits[part];
    if (entry === undefined) return this.#loaded[part] as PartStates[P] | undefined;
    const kept = this.#kept[part];
    if (kept !== undefined) return kept as PartStates[P];
    this.#parsed ??= {};
    return (this.#parsed[part] ??= JSON.parse(entry.state!) as PartStates[P]);
  }
}

type Hits = Partial<Record<CachedPart, Entry>>;

export class CachedStore implements SessionStore {
  readonly #cache: LRUCache<string, Entry>;

  /**
   * The parsed states of the parts written last, with their versions, within
   * an eighth of L1's byte budget besides it (32 MiB at the default: about
   * 1,500 full histories or 5,000 carts), not L1's tens of thousands (the
   * header says why L1 holds text). A write to a part written recently — a
   * shopper adding one item after another — then joins into the state object
   * itself: no parse of its text (about 50 µs for a history of 50 views, timed
   * inside the server), no text made for it when it leaves, and the part's
   * JSON reuses the pieces of the lines it did not touch.
   */
  readonly #written: LRUCache<string, Parsed>;

  /**
   * @param historyLimit the store's history limit, which joining history
   *   records into a cached history applies as the store does.
   */
  constructor(
    private readonly inner: SessionStore,
    private readonly historyLimit: number,
    options: L1Options = DEFAULT_L1_OPTIONS,
    private readonly observer: CacheObserver = { lookup: () => {} },
  ) {
    this.#written = new LRUCache<string, Parsed>({
      max: options.maxEntries,
      maxSize: Math.max(1, Math.floor(options.maxBytes * WRITTEN_SHARE)),
      // A written part's L1 entry has no state text while its state is kept here (`#remember`): write it when it
      // leaves. Only eviction makes it leave: a newer state set in its place stays, and a deleted one goes with its entry.
      dispose: (parsed, entryKey, reason) => {
        if (reason === 'evict') this.#keepText(entryKey, parsed);
      },
    });
    this.#cache = new LRUCache<string, Entry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttl: options.ttlMs,
      updateAgeOnGet: true,
      sizeCalculation: entrySize,
    });
  }

  get engine(): SessionStore['engine'] {
    return this.inner.engine;
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.#cache.size;
  }

  async load(sessionId: string, parts: readonly DataPart[], now: number, { credential }: LoadOptions = {}): Promise<LoadedSession | null> {
    const held: Hits = {};
    const known: Partial<Record<DataPart, string>> = {};
    // States kept parsed for entries without text, taken now: a write on this node may move them on during the call.
    const kept: { -readonly [P in CachedPart]?: PartStates[P] } = {};
    for (const part of CACHED_PARTS) {
      if (!parts.includes(part)) continue;
      const entryKey = key(sessionId, part);
      const entry = this.#cache.get(entryKey);
      if (entry === undefined) continue;
      if (entry.state === undefined) {
        const parsed = this.#written.peek(entryKey);
        if (parsed?.version !== entry.version) continue;
        (kept as Record<CachedPart, unknown>)[part] = parsed.state;
      }
      held[part] = entry;
      known[part] = entry.version;
    }
    const loaded = await this.inner.load(sessionId, parts, now, credential === undefined ? { known } : { known, credential });
    if (loaded === null) {
      for (const part of CACHED_PARTS) this.#forget(key(sessionId, part));
      return null;
    }
    const hits: Hits = {};
    let rendered: Partial<Record<CachedPart, string>> | undefined;
    for (const part of CACHED_PARTS) {
      if (!parts.includes(part)) continue;
      const fresh = loaded[part];
      const entry = held[part];
      if (fresh !== undefined) {
        (rendered ??= {})[part] = this.#remember(sessionId, part, loaded.versions[part], fresh);
        this.observer.lookup(part, 'miss');
      } else if (entry !== undefined && entry.version === loaded.versions[part]) {
        hits[part] = entry;
        this.observer.lookup(part, 'hit');
      } else {
        // The engine left out a part we could not supply: never guess, read it whole.
        this.observer.lookup(part, 'miss');
        return this.#loadWithoutCache(sessionId, parts, now, credential);
      }
    }
    const withRendered = rendered === undefined ? loaded : { ...loaded, rendered: { ...loaded.rendered, ...rendered } };
    if (hits.cart === undefined && hits.prefs === undefined && hits.history === undefined) return withRendered;
    return new WithHits(withRendered, hits, kept);
  }

  /**
   * With the part cached, the store is told its version; when the change
   * started from it, the store sends only the change records, and the new
   * state is the cached one joined with them — exactly what the store wrote,
   * because it wrote that same join. A view added to a history, and a change
   * of one cart line, get their JSON from the entry's (`viewAfterChange`), not
   * rendered whole.
   */
  async apply(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<ApplyResult> {
    const part = partOf(op);
    const entryKey = isCachedPart(part) ? key(sessionId, part) : undefined;
    const entry = entryKey === undefined ? undefined : this.#cache.get(entryKey);
    // A written part's state is taken now: it may leave `#written` while the call is out.
    const kept = entry === undefined ? undefined : this.#written.get(entryKey!);
    const base = kept !== undefined && kept.version === entry!.version ? kept.state : undefined;
    const held = entry !== undefined && (base !== undefined || entry.state !== undefined) ? entry : undefined;
    const result = await this.inner.apply(sessionId, caller, op, held ? { ...options, knownVersion: held.version } : options);
    if (result.status !== 'applied' || !isCachedPart(part)) return result;
    let state: PartStates[CachedPart] | undefined = result.session[part];
    if (state === undefined && held !== undefined) {
      const before = base ?? (JSON.parse(held.state!) as PartStates[CachedPart]);
      state = before;
      for (const record of result.records) {
        if (record.part === part) state = mergePart(part, state, record.state as typeof state, this.historyLimit);
      }
      const cart = base !== undefined && kept!.cart?.json === held.view ? kept!.cart : undefined;
      const view = this.#remember(sessionId, part, result.session.versions[part], state, true, viewAfterChange(part, held.view, cart, before, state, result.records));
      return { ...result, session: { ...result.session, [part]: state, rendered: { ...result.session.rendered, [part]: view } } };
    }
    if (state === undefined) {
      this.#forget(key(sessionId, part));
      return result;
    }
    const view = this.#remember(sessionId, part, result.session.versions[part], state, true);
    return { ...result, session: { ...result.session, rendered: { ...result.session.rendered, [part]: view } } };
  }

  async merge(records: readonly ChangeRecord[], now: number): Promise<MergeReport[]> {
    for (const record of records) if (isCachedPart(record.part)) this.#forget(key(record.sessionId, record.part));
    return this.inner.merge(records, now);
  }

  create(session: NewSession, options: { readonly now: number; readonly hlc: Hlc }): Promise<CreateResult> {
    return this.inner.create(session, options);
  }

  touch(sessionId: string, deviceId: string, now: number, hlc: Hlc, seen?: Seen): Promise<void> {
    return this.inner.touch(sessionId, deviceId, now, hlc, seen);
  }

  userSessions(userId: string): Promise<string[]> {
    return this.inner.userSessions(userId);
  }

  /** Erases in the store, and drops this node's copies of the user's parts (other nodes' L1 lose theirs at their next load, or their TTL). */
  async eraseUser(userId: string, now: number, hlc: Hlc): Promise<number> {
    const ids = await this.inner.userSessions(userId);
    const erased = await this.inner.eraseUser(userId, now, hlc);
    for (const id of ids) for (const part of CACHED_PARTS) this.#forget(key(id, part));
    return erased;
  }

  snapshot(sessionId: string): Promise<SessionSnapshot | null> {
    return this.inner.snapshot(sessionId);
  }

  get feed(): ChangeFeed | null {
    return this.inner.feed;
  }

  scan(cursor: string, limit: number): ReturnType<SessionStore['scan']> {
    return this.inner.scan(cursor, limit);
  }

  digests(sessionIds: readonly string[]): ReturnType<SessionStore['digests']> {
    return this.inner.digests(sessionIds);
  }

  readMark(name: string): Promise<string | null> {
    return this.inner.readMark(name);
  }

  writeMark(name: string, value: string): Promise<void> {
    return this.inner.writeMark(name, value);
  }

  lease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    return this.inner.lease(name, holder, ttlMs, now);
  }

  release(name: string, holder: string): Promise<void> {
    return this.inner.release(name, holder);
  }

  findUserSession(userId: string, now: number): Promise<string | null> {
    return this.inner.findUserSession(userId, now);
  }

  sweep(now: number, limit: number): Promise<number> {
    return this.inner.sweep(now, limit);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.#cache.clear();
    this.#written.clear();
    await this.inner.close();
  }

  async #loadWithoutCache(sessionId: string, parts: readonly DataPart[], now: number, credential: LoadOptions['credential']): Promise<LoadedSession | null> {
    const loaded = await this.inner.load(sessionId, parts, now, credential === undefined ? {} : { credential });
    if (loaded === null) return null;
    const rendered: Partial<Record<CachedPart, string>> = {};
    for (const part of CACHED_PARTS) {
      const state = loaded[part];
      if (parts.includes(part) && state !== undefined) rendered[part] = this.#remember(sessionId, part, loaded.versions[part], state);
    }
    return { ...loaded, rendered: { ...loaded.rendered, ...rendered } };
  }

  #forget(entryKey: string): void {
    this.#cache.delete(entryKey);
    this.#written.delete(entryKey);
  }

  /**
   * `written`: the state comes from a write, and the next write to this part
   * will likely start from it. It is then kept parsed in `#written`, and the
   * entry gets its state text only when it leaves there: a part written again
   * and again is not serialized on every write. Returns the part's public JSON,
   * which the answer carries as `rendered` instead of rendering the state again.
   * `rendered`: that JSON, when the caller already has it — for a cart, with
   * its items' places (`RenderedCart`), which a written cart keeps.
   */
  #remember<P extends CachedPart>(sessionId: string, part: P, version: string, state: PartStates[P], written = false, rendered?: string | RenderedCart): string {
    const entryKey = key(sessionId, part);
    // A written cart keeps where each item starts, for the next write to splice one line's item in.
    const cart = written && part === 'cart' ? (typeof rendered === 'object' ? rendered : renderCart(state as CartState)) : undefined;
    const view = cart?.json ?? (typeof rendered === 'string' ? rendered : (VIEW_JSON[part] as (state: PartStates[P]) => string)(state));
    const size = written ? parsedSize(view, version) : 0;
    // A state too large to keep parsed within the budget is kept as text at once, as a read's is.
    if (written && size <= this.#written.maxSize) {
      this.#cache.set(entryKey, { version, view });
      this.#written.set(entryKey, cart === undefined ? { version, state } : { version, state, cart }, { size });
    } else {
      this.#cache.set(entryKey, { version, view, state: JSON.stringify(state) });
      this.#written.delete(entryKey);
    }
    return view;
  }

  /** A parsed state leaves `#written`: its entry, if still at that version and without text, gets the text. */
  #keepText(entryKey: string, { version, state }: Parsed): void {
    const entry = this.#cache.peek(entryKey);
    if (entry === undefined || entry.version !== version || entry.state !== undefined) return;
    this.#cache.set(entryKey, { ...entry, state: JSON.stringify(state) }, { noUpdateTTL: true });
  }
}

/**
 * The written part's JSON made from the entry's JSON before the change, where
 * the change allows it: a view newer than every other joined into a history
 * (`historyItemsJsonAfterView`), or one cart line changed (`cartAfterLineChange`,
 * from `beforeCart`, the cart's rendering with its items' places). Undefined:
 * render whole.
 */
function viewAfterChange(
  part: CachedPart,
  beforeJson: string,
  beforeCart: RenderedCart | undefined,
  before: PartStates[CachedPart],
  after: PartStates[CachedPart],
  records: readonly ChangeRecord[],
): string | RenderedCart | undefined {
  if (part === 'prefs' || (part === 'cart' && beforeCart === undefined)) return undefined;
  let changed: Record<string, unknown> | undefined;
  for (const record of records) {
    if (record.part !== part) continue;
    if (changed !== undefined) return undefined;
    changed = part === 'cart' ? (record.state as CartState).lines : (record.state as HistoryState).items;
  }
  const keys = changed === undefined ? [] : Object.keys(changed);
  if (keys.length !== 1) return undefined;
  const id = keys[0]!;
  if (part === 'cart') return cartAfterLineChange(beforeCart!, before as CartState, after as CartState, id) ?? undefined;
  return historyItemsJsonAfterView(beforeJson, before as HistoryState, after as HistoryState, id, (changed as HistoryState['items'])[id]!) ?? undefined;
}

function key(sessionId: string, part: CachedPart): string {
  return `${sessionId}/${part}`;
}

function isCachedPart(part: string): part is CachedPart {
  return part === 'cart' || part === 'prefs' || part === 'history';
}

export type { KnownVersions };

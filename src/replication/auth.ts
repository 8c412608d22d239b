/**
 * Strongly consistent auth across regions, with local reads.
 *
 * - **Ordering**: an auth change (a device signing in to an existing session,
 *   rotated, revoked; a session ended) is made by the region that owns the
 *   session's home (`home.ts`), one at a time per session (a lock in that
 *   region's store), as *publish, then apply*: the change is computed from
 *   the stored state by the reference rules (`store/transition.ts`), published
 *   to the global stream (a majority of regions acknowledges it), and only
 *   then joined into the store. Nothing that was not acknowledged is applied
 *   anywhere; what was acknowledged is applied everywhere.
 * - **Forwarding**: any other region forwards the change to the owner over
 *   NATS (`tessera.home.<region>.apply`) and answers with its outcome; a lost
 *   owner answers 503, retryable.
 * - **Barrier**: the change returns only once every other region has applied
 *   it (asked over `tessera.home.<region>.applied`) or can no longer be fresh
 *   — `FRESH_MS` after the acknowledgement, any freshness requires it applied.
 * - **Reads**: a node answers token checks from its region's copy while it
 *   holds the session's home or is fresh (`freshness.ts`); otherwise, and to
 *   confirm a token its copy does not know, it asks the owner
 *   (`tessera.home.<region>.load`); if that fails it answers 503 — never a
 *   stale accept.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Operation } from '../domain/operations.js';
import type { Change } from '../domain/parts.js';
import type { Mutable } from '../domain/mutable.js';
import type { ApplyOptions, ApplyResult, Caller, Credential, LoadedSession, SessionStore, StoreSettings } from '../store/session-store.js';
import { transition } from '../store/transition.js';
import { homeOf } from '../tokens/session-token.js';
import type { DataPart } from '../domain/parts.js';
import { FRESH_MS, type Freshness } from './freshness.js';
import type { EpochRecord, HomeOwnership } from './home.js';
import { parseToken, streamName } from './layout.js';
import { answerQuestions, ask } from './questions.js';
import type { ReplicationSettings } from './settings.js';

/**
 * A region's answer to the barrier: how far it applied the stream, and the
 * epoch it knows of the change's home with its record (none at epoch 0, and
 * from nodes before D90), which the asker learns if it lacked it.
 */
interface Applied {
  readonly position: number;
  readonly epoch: number;
  readonly record?: EpochRecord;
}

/** The owner could not be reached, or does not hold the home right now: retry. */
export class AuthUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthUnavailableError';
  }
}

/** What the auth side reports, for metrics. */
export interface AuthObserver {
  forwarded(kind: 'apply' | 'load'): void;
  barrier(seconds: number, outcome: 'confirmed' | 'waited-out' | 'superseded'): void;
  failedClosed(): void;
}

export interface Ordered {
  readonly result: ApplyResult;
  readonly consistency?: string;
}

const LOCK_MS = 10_000;
const LOCK_WAIT_MS = 3_000;
/** How long a forwarded auth change may take at the owner (its publish and barrier included). */
const FORWARD_TIMEOUT_MS = 10_000;
/** How long a token check waits for the owner's answer before failing closed: reads must not hang on a lost region. */
const LOAD_TIMEOUT_MS = 2_000;

/** A loaded session as plain data (an L1 hit is a class with getters, which JSON leaves out). */
function plain(session: LoadedSession | null): LoadedSession | null {
  if (session === null) return null;
  const copy: Mutable<LoadedSession> = { meta: session.meta, devices: session.devices, versions: session.versions };
  if (session.credential !== undefined) copy.credential = session.credential;
  if (session.credentialActiveAt !== undefined) copy.credentialActiveAt = session.credentialActiveAt;
  if (session.alias !== undefined) copy.alias = session.alias;
  if (session.cart !== undefined) copy.cart = session.cart;
  if (session.prefs !== undefined) copy.prefs = session.prefs;
  if (session.history !== undefined) copy.history = session.history;
  return copy;
}

export class AuthRouter {
  readonly #subscriptions: Subscription[] = [];
  readonly #holder = `auth-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #changes = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: SessionStore,
    private readonly storeSettings: StoreSettings,
    private readonly settings: ReplicationSettings,
    private readonly ownership: HomeOwnership,
    private readonly freshness: Freshness,
    /** Publishes a change to this region's global stream; resolves to its consistency token, or throws. */
    private readonly publishGlobal: (change: Change) => Promise<string>,
    /** This region's applied position of a stream. */
    private readonly position: (stream: string) => Promise<number>,
    private readonly logger: Logger,
    private readonly observer: AuthObserver,
  ) {}

  /** The home region of a session (sessions made before homes existed belong to the first region). */
  homeOf(sessionId: string): string {
    return homeOf(sessionId) ?? this.settings.regions[0]!;
  }

  /** Answers other regions: orders forwarded changes, serves loads, reports positions, hands homes back. */
  serve(): void {
    this.#subscriptions.push(
      ...answerQuestions(this.nc, 'home', this.settings.region, {
        // Deadlines (grace windows, idle and absolute timeouts) are judged and set by the owner's clock, not the asker's:
        // a region whose clock runs behind would otherwise stretch a grace window by its skew.
        apply: (body: { sessionId: string; caller: Caller; op: Operation; options: ApplyOptions }) =>
          this.#orderHere(body.sessionId, body.caller, body.op, { ...body.options, now: Date.now() }),
        load: async (body: { sessionId: string; parts: DataPart[]; credential?: Credential }) => {
          if (!this.ownership.current(this.homeOf(body.sessionId))) throw new Error('not the owner of this home now');
          return plain(await this.store.load(body.sessionId, body.parts, Date.now(), body.credential === undefined ? {} : { credential: body.credential }));
        },
        applied: async (body: { stream: string; home: string }): Promise<Applied> => {
          const record = this.ownership.latest(body.home);
          return { position: await this.position(body.stream), epoch: this.ownership.ownerOf(body.home).epoch, ...(record === undefined ? {} : { record }) };
        },
        epochs: async (body: { homes?: unknown }) => ({
          records: this.ownership.records(Array.isArray(body.homes) ? body.homes.filter((home): home is string => this.settings.regions.includes(home as string)) : []),
        }),
        handback: async (body: { home: string }) => this.ownership.handBack(body.home),
      }),
    );
  }

  stopServing(): void {
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
  }

  /** Makes an auth change where it belongs: here if this region owns the session's home, else at the owner. */
  async order(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<Ordered> {
    const home = this.homeOf(sessionId);
    const { owner } = this.ownership.ownerOf(home);
    if (owner === this.settings.region) return this.#orderHere(sessionId, caller, op, options);
    this.observer.forwarded('apply');
    return (await this.#ask(owner, 'apply', { sessionId, caller, op, options })) as Ordered;
  }

  /**
   * A load for a token check: from this region's copy while it may be trusted
   * for this session, else from the owner of its home; a token the copy does
   * not know is confirmed with the owner before it is refused.
   */
  async load(sessionId: string, parts: readonly DataPart[], now: number, credential: Credential): Promise<LoadedSession | null> {
    const home = this.homeOf(sessionId);
    // This region's own orders count only while no other region can have taken the home over: fresh() is for other owners.
    const own = this.ownership.current(home);
    const trusted = own || (this.freshness.fresh(this.ownership.ownerOf(home).owner) && (await this.#pastFences(home)));
    if (trusted) {
      const local = await this.store.load(sessionId, parts, now, { credential });
      if (own) return local;
      // A session or device this copy has never seen may have been made a moment ago elsewhere: ask its home.
      // A device it knows is revoked, or a wrong secret, is refused here. A replaced token still in its grace
      // window is judged by the home's clock (this one may run behind and stretch the window).
      const unknown = local === null || (local.credential === 'none' && local.credentialActiveAt === undefined);
      if (!unknown && local.credential !== 'grace') return local;
    }
    const { owner } = this.ownership.ownerOf(home);
    if (owner === this.settings.region) {
      // This region owns the home but does not hold it now (its heartbeats do not get through): refuse to guess.
      this.observer.failedClosed();
      throw new AuthUnavailableError('this region cannot confirm auth right now (its home lease is not held); retry');
    }
    this.observer.forwarded('load');
    try {
      return (await this.#ask(owner, 'load', { sessionId, parts, credential }, LOAD_TIMEOUT_MS)) as LoadedSession | null;
    } catch (error) {
      this.observer.failedClosed();
      throw error;
    }
  }

  /** Whether this region has applied what every earlier owner of a home published (taken over since). */
  async #pastFences(home: string): Promise<boolean> {
    for (const fence of this.ownership.fences(home)) {
      for (const [stream, sequence] of Object.entries(fence)) if ((await this.position(stream)) < sequence) return false;
    }
    return true;
  }

  async #orderHere(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<Ordered> {
    const home = this.homeOf(sessionId);
    if (!this.ownership.holds(home)) {
      throw new AuthUnavailableError(`this region does not hold home "${home}" now (its lease lapsed or it is being handed over); retry`);
    }
    const done = this.ownership.begin(home);
    const lock = `auth:${sessionId}`;
    try {
      const holder = await this.#lock(lock);
      try {
        const stored = await this.store.snapshot(sessionId);
        if (stored?.meta.mergedInto !== undefined) return await this.order(stored.meta.mergedInto, caller, op, options);
        const outcome = transition(stored, caller, op, options, this.storeSettings);
        if (!('next' in outcome)) return { result: outcome.result };
        const { records, hlc } = outcome.result;
        const change: Change = { sessionId, hlc, origin: this.settings.region, records, epoch: this.ownership.ownerOf(home).epoch };
        // Publish, then apply: what a majority of regions did not acknowledge is applied nowhere.
        const consistency = await this.publishGlobal(change);
        if (!this.ownership.holds(home)) {
          // Taken over while publishing: the change lies past the fence, and every applier (ours too) ignores it.
          throw new AuthUnavailableError('the home was taken over during the change; retry');
        }
        await this.#barrier(consistency, home, change.epoch!);
        await this.store.merge(records, options.now);
        return { result: outcome.result, consistency };
      } finally {
        await this.store.release(lock, holder).catch(() => undefined);
      }
    } finally {
      done();
    }
  }

  /** Takes a session's lock for one change; resolves to the holder to release it with (each change its own, so two changes in one process exclude each other too). */
  async #lock(name: string): Promise<string> {
    const holder = `${this.#holder}-${(this.#changes += 1)}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      if (await this.store.lease(name, holder, LOCK_MS, Date.now())) return holder;
      if (Date.now() >= deadline) throw new AuthUnavailableError('another auth change of this session is in progress; retry');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Waits until every other region has applied the change, or can no longer
   * be fresh without having applied it (`FRESH_MS` after the acknowledgement).
   */
  async #barrier(token: string, home: string, epoch: number): Promise<void> {
    const parsed = parseToken(token);
    if (parsed === null) return;
    const stream = streamName(parsed.ref);
    const began = performance.now();
    const deadline = began + FRESH_MS + 100;
    const others = this.settings.regions.filter((region) => region !== this.settings.region);
    let superseded = false;
    const confirmed = await Promise.all(
      others.map(async (region) => {
        while (performance.now() < deadline && !superseded) {
          try {
            const answer = (await this.#ask(region, 'applied', { stream, home }, Math.max(50, deadline - performance.now()))) as Applied;
            // A region that knows a later epoch of this home ignored the change: this node is not the owner
            // any more, and learns so now (its epoch stream may have lost the record: D90).
            if (answer.epoch > epoch) {
              superseded = true;
              if (answer.record !== undefined) this.ownership.learn(answer.record, 'barrier', region);
            } else if (answer.position >= parsed.sequence) return true;
          } catch {
            // Unreachable: the wait runs out below.
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return false;
      }),
    );
    if (superseded) {
      this.observer.barrier((performance.now() - began) / 1000, 'superseded');
      throw new AuthUnavailableError(`another region owns home "${home}" at a later epoch: the change counts nowhere; retry`);
    }
    const all = confirmed.every(Boolean);
    if (!all) {
      this.logger.warn({ stream, sequence: parsed.sequence, unconfirmed: others.filter((_, i) => !confirmed[i]) }, 'an auth change waited out regions that did not confirm it (they cannot be fresh without it)');
      const left = deadline - performance.now();
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    }
    this.observer.barrier((performance.now() - began) / 1000, all ? 'confirmed' : 'waited-out');
  }

  #ask(region: string, question: string, body: unknown, timeoutMs = FORWARD_TIMEOUT_MS): Promise<unknown> {
    return ask(this.nc, 'home', region, question, body, timeoutMs, (message, cause) => new AuthUnavailableError(`${message}; retry`, { cause }));
  }
}


/**
 * Compares this region's sessions with every other region's and repairs
 * what differs, whatever the log did: messages an unhealthy stream lost,
 * changes that expired from a stream while a region was away, a region whose
 * store was wiped. Regions compare digests — one per bucket of sessions, then
 * one per session in the buckets that differ — and the sessions that differ
 * are exchanged whole, both ways: a session's snapshot is a valid set of
 * change records, and joins are idempotent, so re-sending is always safe.
 *
 * Each region answers on `tessera.repair.<region>.<question>` (queue group:
 * one node answers): `buckets` (digest and count per bucket), `sessions` (one
 * page of a scan: the digest of each session in the buckets asked for),
 * `digests` (the digest of each session named), `states` (snapshots of
 * sessions), `apply` (join these records), and `erase` (erase a user here: a
 * privacy request made in one region is carried out in every region before it
 * is answered). Nothing is held per session beyond a message's worth, so a
 * round needs the same memory for a thousand sessions as for hundreds of
 * millions (decision D88). The lease holder of each region asks the others
 * every `repairIntervalMs`; `compare(peer)` runs one round on demand.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { HybridLogicalClock } from '../domain/hlc.js';
import type { ChangeRecord } from '../domain/parts.js';
import type { ScannedSession, SessionStore } from '../store/session-store.js';
import { snapshotRecords } from '../store/transition.js';
import { shardOf } from './layout.js';
import { answerQuestions, ask, maxPayload } from './questions.js';
import type { ReplicationObserver } from './observer.js';
import type { ReplicationSettings } from './settings.js';

const REQUEST_TIMEOUT_MS = 30_000;
/** Most sessions per `states` / `apply` message; fewer when their snapshots would not fit in one (`#fitting`). */
const CHUNK = 50;
/** Bytes of a message kept for what surrounds the records: the answer's envelope, the ids left out. */
const ENVELOPE_BYTES = 16 * 1024;
/** Buckets an old-style `sessions` question names at most (nodes before paged repair ask 16 at a time). */
const BUCKETS_PER_QUESTION = 16;
/** Sessions read per step of a store's scan. */
const SCAN_PAGE = 500;
/** Most sessions one `sessions` answer scans past, listed or not: a question's time stays bounded. */
const SCAN_PER_ANSWER = 20_000;
/** Bytes a session takes in a list of them, at most (`["<id of up to 55 characters>","<16 hex>"],`). */
const LISTED_BYTES = 100;

export interface RepairOutcome {
  readonly peer: string;
  readonly buckets: number;
  readonly differing: number;
  readonly pulled: number;
  readonly pushed: number;
}

/** A stretch of a region's scan summed up per bucket, and where the scan goes on (null: done). */
interface SumsPage {
  readonly digests: Readonly<Record<string, string>>;
  readonly counts: Readonly<Record<string, number>>;
  readonly next: string | null;
}

/** Sessions summed up per bucket: the XOR of their digests, in two 32-bit halves, and how many there are. */
class BucketSums {
  readonly #high: Uint32Array;
  readonly #low: Uint32Array;
  readonly #counts: Uint32Array;

  constructor(readonly buckets: number) {
    [this.#high, this.#low, this.#counts] = [new Uint32Array(buckets), new Uint32Array(buckets), new Uint32Array(buckets)];
  }

  add(id: string, digest: string): void {
    this.#fold(shardOf(id, this.buckets), digest, 1);
  }

  /** Folds in a page of another region's sums. */
  addPage(page: SumsPage): void {
    for (const [bucket, digest] of Object.entries(page.digests)) this.#fold(Number(bucket), digest, page.counts[bucket] ?? 0);
  }

  digest(bucket: number): string {
    return this.#high[bucket]!.toString(16).padStart(8, '0') + this.#low[bucket]!.toString(16).padStart(8, '0');
  }

  count(bucket: number): number {
    return this.#counts[bucket] ?? 0;
  }

  /** The buckets that hold sessions, as a page of an answer. */
  page(next: string | null): SumsPage {
    const page = { digests: {} as Record<string, string>, counts: {} as Record<string, number>, next };
    this.#counts.forEach((count, bucket) => {
      if (count === 0) return;
      page.digests[bucket] = this.digest(bucket);
      page.counts[bucket] = count;
    });
    return page;
  }

  #fold(bucket: number, digest: string, count: number): void {
    if (!(bucket >= 0 && bucket < this.buckets)) return;
    this.#high[bucket]! ^= Number.parseInt(digest.slice(0, 8), 16);
    this.#low[bucket]! ^= Number.parseInt(digest.slice(8, 16), 16);
    this.#counts[bucket]! += count;
  }
}

/** One page of a region's sessions in the buckets asked for, and where its scan goes on (null: done). */
interface SessionsPage {
  readonly sessions: readonly (readonly [id: string, digest: string])[];
  readonly next: string | null;
}

export class AntiEntropy {
  readonly #subscriptions: Subscription[] = [];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  /** Set by `stop`: a round under way gives up at its next page. */
  #stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: SessionStore,
    private readonly clock: HybridLogicalClock,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly observer: ReplicationObserver,
  ) {}

  /** Answers other regions' questions (every node; one of the region's answers each). */
  serve(): void {
    this.#subscriptions.push(
      ...answerQuestions(this.nc, 'repair', this.settings.region, {
        // With `cursor`, a stretch of the scan summed up (paged repair); without, every bucket's digest, flat (nodes before it).
        buckets: async (body: { cursor?: string }) => {
          if (body.cursor === undefined) return (await this.#sums('', Infinity)).sums.page(null).digests;
          const { sums, next } = await this.#sums(body.cursor, SCAN_PER_ANSWER);
          return sums.page(next);
        },
        // With `cursor`, one page of a scan; without, every session of up to 16 buckets (how nodes before paged repair ask).
        sessions: async (body: { bucket?: number; buckets?: number[]; cursor?: string; maxBytes?: number }) => {
          if (body.cursor !== undefined) return this.#sessionsPage(new Set(body.buckets), body.cursor, Math.min(body.maxBytes ?? Infinity, this.#budget()));
          if (body.buckets === undefined) return Object.fromEntries((await this.#held([body.bucket ?? -1])).get(body.bucket ?? -1) ?? []);
          const held = await this.#held(body.buckets.slice(0, BUCKETS_PER_QUESTION));
          return Object.fromEntries([...held].map(([bucket, sessions]) => [bucket, Object.fromEntries(sessions)]));
        },
        digests: async (body: { ids: string[] }) => this.store.digests(body.ids),
        // With `maxBytes`, as many sessions as fit and the ids left for the next question; without, how nodes before it asked.
        states: async (body: { ids: string[]; maxBytes?: number }) => {
          if (body.maxBytes === undefined) return this.#states(body.ids);
          // Read one at a time, up to what fits: the ids left are asked for again, and read then.
          const { records, taken } = await this.#fitting(this.#snapshots(body.ids), Math.min(body.maxBytes, this.#budget()));
          return { records, rest: body.ids.slice(taken) };
        },
        apply: async (body: { records: ChangeRecord[] }) => ({ merged: (await this.store.merge(body.records, Date.now())).length }),
        erase: async (body: { userId: string }) => ({ erased: await this.store.eraseUser(body.userId, Date.now(), this.clock.now()) }),
      }),
    );
  }

  /**
   * Erases the user in every other region (each erases what it holds, and
   * its tombstones travel back). Rejects unless every region answered: the
   * request is then retried, and erasing again is harmless.
   */
  async eraseElsewhere(userId: string): Promise<void> {
    const peers = this.settings.regions.filter((region) => region !== this.settings.region);
    await Promise.all(peers.map((peer) => this.#ask(peer, 'erase', { userId })));
  }

  stopServing(): void {
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
  }

  start(): void {
    this.#stopped = false;
    this.#timer ??= setInterval(() => {
      this.#running ??= this.compareAll()
        .catch((error: unknown) => {
          if (!this.#stopped) this.logger.warn({ err: error }, 'comparing sessions with other regions failed');
        })
        .finally(() => {
          this.#running = null;
        });
    }, this.settings.repairIntervalMs);
  }

  /** Stops the rounds; one under way ends at its next page (a round over a large store takes long). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async compareAll(): Promise<RepairOutcome[]> {
    const outcomes: RepairOutcome[] = [];
    for (const peer of this.settings.regions) {
      if (peer === this.settings.region) continue;
      const started = performance.now();
      const seconds = (): number => (performance.now() - started) / 1000;
      try {
        outcomes.push(await this.compare(peer));
        this.observer.repairRound(peer, 'ok', seconds());
      } catch (error) {
        if (this.#stopped) throw error;
        this.observer.repairRound(peer, 'failed', seconds());
        this.logger.warn({ err: error, peer }, 'comparing sessions with a region failed (it may be away)');
      }
    }
    return outcomes;
  }

  /**
   * One comparison with a peer region: a digest per bucket of sessions, then,
   * in the buckets that differ, each session's digest, and both ways the
   * snapshots of those that differ. Each side scans its store at most twice
   * and holds no list of sessions: this region lists its own a message's
   * worth at a time and the peer looks each up, then the peer lists its own a
   * page at a time and this region looks each up.
   */
  async compare(peer: string): Promise<RepairOutcome> {
    const [ours, theirs] = await Promise.all([this.#sums('', Infinity, true).then(({ sums }) => sums), this.#theirSums(peer)]);
    const differing: number[] = [];
    for (let bucket = 0; bucket < this.settings.repairBuckets; bucket += 1) {
      if (ours.digest(bucket) !== theirs.digest(bucket) || ours.count(bucket) !== theirs.count(bucket)) differing.push(bucket);
    }
    let [pulled, pushed] = [0, 0];
    if (differing.length > 0) {
      const wanted = new Set(differing);
      // Pushed first: a region rebuilding from nothing has nothing to list, and starts pulling at once.
      for await (const page of this.#pagesOf(wanted)) {
        const there = (await this.#ask(peer, 'digests', { ids: page.map(([id]) => id) })) as (string | null)[];
        const push = page.filter(([, digest], i) => there[i] !== digest).map(([id]) => id);
        await this.#push(peer, push);
        pushed += push.length;
      }
      const total = differing.reduce((sum, bucket) => sum + theirs.count(bucket), 0);
      let listed = 0;
      let cursor: string | null = '';
      while (cursor !== null) {
        this.#onlyIfRunning();
        const page = (await this.#ask(peer, 'sessions', { buckets: differing, cursor, maxBytes: this.#budget() })) as SessionsPage;
        const here = await this.store.digests(page.sessions.map(([id]) => id));
        const pull = page.sessions.filter(([, digest], i) => here[i] !== digest).map(([id]) => id);
        await this.#pull(peer, pull);
        pulled += pull.length;
        listed += page.sessions.length;
        this.observer.rebuildProgress(peer, Math.min(listed, total), total);
        cursor = page.next ?? null;
      }
    }
    if (pulled + pushed > 0) {
      this.observer.repaired(peer, pulled + pushed);
      this.logger.info({ peer, buckets: differing.length, pulled, pushed }, 'sessions that differed from another region were exchanged');
    }
    return { peer, buckets: this.settings.repairBuckets, differing: differing.length, pulled, pushed };
  }

  /** The peer's sums per bucket, a stretch of its scan per question; a node from before paged repair answers otherwise, and is not asked on. */
  async #theirSums(peer: string): Promise<BucketSums> {
    const sums = new BucketSums(this.settings.repairBuckets);
    let cursor: string | null = '';
    while (cursor !== null) {
      this.#onlyIfRunning();
      const page = (await this.#ask(peer, 'buckets', { cursor })) as SumsPage | Record<string, string>;
      if (typeof page.digests !== 'object') {
        throw new Error(`region ${peer} runs a Tessera from before paged repair: it keeps comparing with this region from its side until it is upgraded`);
      }
      sums.addPage(page as SumsPage);
      cursor = (page as SumsPage).next ?? null;
    }
    return sums;
  }

  /** Joins the peer's snapshots of these sessions here, as many per question as fit in a message. */
  async #pull(peer: string, ids: readonly string[]): Promise<void> {
    let left = ids;
    while (left.length > 0) {
      const asked = left.slice(0, CHUNK);
      const answer = (await this.#ask(peer, 'states', { ids: asked, maxBytes: this.#budget() })) as ChangeRecord[] | { records: ChangeRecord[]; rest: string[] };
      // A node from before `maxBytes` answers every session asked, as an array.
      const { records, rest } = Array.isArray(answer) ? { records: answer, rest: [] } : answer;
      if (rest.length === asked.length) throw new Error(`region ${peer} answered none of ${asked.length} sessions asked for`);
      await this.store.merge(records, Date.now());
      left = [...rest, ...left.slice(asked.length)];
    }
  }

  /** Sends the peer this region's snapshots of these sessions to join, as many per message as fit. */
  async #push(peer: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      let left = await this.#statesBySession(ids.slice(i, i + CHUNK));
      while (left.length > 0) {
        const { records, taken } = await this.#fitting(left, this.#budget());
        await this.#ask(peer, 'apply', { records });
        left = left.slice(taken);
      }
    }
  }

  /**
   * The records of the first sessions whose JSON fits in `maxBytes`, and how
   * many sessions that is: at least one, so a session larger than a message
   * fails where it is sent, named by the size refusal, instead of stalling.
   */
  async #fitting(sessions: Iterable<readonly ChangeRecord[]> | AsyncIterable<readonly ChangeRecord[]>, maxBytes: number): Promise<{ records: ChangeRecord[]; taken: number }> {
    const records: ChangeRecord[] = [];
    let bytes = 0;
    let taken = 0;
    for await (const session of sessions) {
      const size = Buffer.byteLength(JSON.stringify(session)) + 1;
      if (taken > 0 && bytes + size > maxBytes) break;
      records.push(...session);
      bytes += size;
      taken += 1;
    }
    return { records, taken };
  }

  /** What one message may carry of records: the connection's `max_payload` less the envelope. */
  #budget(): number {
    return Math.max(maxPayload(this.nc) - ENVELOPE_BYTES, ENVELOPE_BYTES);
  }

  /** This store's sessions summed up per bucket, from `cursor` on, over `most` sessions at most (Infinity: to the end). */
  async #sums(cursor: string, most: number, round = false): Promise<{ sums: BucketSums; next: string | null }> {
    const sums = new BucketSums(this.settings.repairBuckets);
    let [scanned, position] = [0, cursor as string | null];
    for await (const page of this.#pages(cursor, () => (scanned < most ? SCAN_PAGE : 0), round)) {
      for (const { id, digest } of page.sessions) sums.add(id, digest);
      scanned += page.sessions.length;
      position = page.next;
    }
    return { sums, next: position };
  }

  /**
   * This store's sessions in the buckets wanted, from `cursor` on, as many as
   * fit in `maxBytes`; the scan stops after `SCAN_PER_ANSWER` sessions even if
   * few were listed, so that an answer never waits long.
   */
  async #sessionsPage(wanted: ReadonlySet<number>, cursor: string, maxBytes: number): Promise<SessionsPage> {
    const sessions: [string, string][] = [];
    let [bytes, scanned, position] = [0, 0, cursor as string | null];
    // A step asks for no more sessions than half the room left could hold: Redis's SCAN may give more than it is asked for.
    const limit = (): number => (scanned < SCAN_PER_ANSWER ? Math.min(SCAN_PAGE, Math.floor((maxBytes - bytes) / (2 * LISTED_BYTES))) : 0);
    for await (const page of this.#pages(cursor, limit)) {
      for (const { id, digest } of page.sessions) {
        if (!wanted.has(shardOf(id, this.settings.repairBuckets))) continue;
        sessions.push([id, digest]);
        bytes += Buffer.byteLength(id) + digest.length + 6;
      }
      scanned += page.sessions.length;
      position = page.next;
    }
    return { sessions, next: position };
  }

  /** This store's sessions in the buckets wanted, a message's worth of ids at a time: one scan. */
  async *#pagesOf(wanted: ReadonlySet<number>): AsyncGenerator<[string, string][]> {
    const budget = this.#budget();
    let page: [string, string][] = [];
    let bytes = 0;
    for await (const { id, digest } of this.#scan(true)) {
      if (!wanted.has(shardOf(id, this.settings.repairBuckets))) continue;
      const size = Buffer.byteLength(id) + 3;
      if (page.length > 0 && bytes + size > budget) {
        yield page;
        [page, bytes] = [[], 0];
      }
      page.push([id, digest]);
      bytes += size;
    }
    if (page.length > 0) yield page;
  }

  /** Every session of these buckets, held: what a node from before paged repair asks for, 16 buckets at most. */
  async #held(buckets: readonly number[]): Promise<Map<number, Map<string, string>>> {
    const held = new Map(buckets.map((bucket) => [bucket, new Map<string, string>()]));
    for await (const { id, digest } of this.#scan()) held.get(shardOf(id, this.settings.repairBuckets))?.set(id, digest);
    return held;
  }

  /** Every session of this store, one scan. */
  async *#scan(round = false): AsyncGenerator<ScannedSession> {
    for await (const page of this.#pages('', () => SCAN_PAGE, round)) yield* page.sessions;
  }

  /**
   * This store's scan from `cursor`, a page at a time with where it goes on;
   * `limit` is asked before each step, and 0 ends the scan there. For a round
   * of this node's (`round`), no step once the repair was stopped: the round
   * ends there.
   */
  async *#pages(cursor: string, limit: () => number, round = false): AsyncGenerator<Awaited<ReturnType<SessionStore['scan']>>> {
    let position: string | null = cursor;
    while (position !== null) {
      const size = limit();
      if (size < 1) return;
      if (round) this.#onlyIfRunning();
      const page: Awaited<ReturnType<SessionStore['scan']>> = await this.store.scan(position, size);
      yield page;
      position = page.next;
    }
  }

  /** A round of this node's goes on only while the repair runs (a round over a large store takes long). */
  #onlyIfRunning(): void {
    if (this.#stopped) throw new Error('the repair stopped');
  }

  /** The snapshots of these sessions as change records of this region. */
  async #states(ids: readonly string[]): Promise<ChangeRecord[]> {
    return (await this.#statesBySession(ids)).flat();
  }

  /** The same, one list of records per session asked for, in order (empty for a session gone). */
  async #statesBySession(ids: readonly string[]): Promise<ChangeRecord[][]> {
    const sessions: ChangeRecord[][] = [];
    for await (const session of this.#snapshots(ids)) sessions.push(session);
    return sessions;
  }

  /** Each session's snapshot as change records of this region, read as it is taken. */
  async *#snapshots(ids: readonly string[]): AsyncGenerator<ChangeRecord[]> {
    for (const id of ids) {
      const snapshot = await this.store.snapshot(id);
      yield snapshot === null ? [] : snapshotRecords(snapshot, { hlc: snapshot.meta.t ?? '', origin: this.settings.region });
    }
  }

  #ask(peer: string, question: string, body: unknown): Promise<unknown> {
    return ask(this.nc, 'repair', peer, question, body, REQUEST_TIMEOUT_MS);
  }
}

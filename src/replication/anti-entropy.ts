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
 * one node answers): `buckets` (digest per bucket), `sessions` (digest per
 * session of up to 16 buckets: one scan of the store per question, so a wiped
 * region's rebuild scans the peer 16 times, not once per bucket), `states` (snapshots of sessions), `apply` (join these
 * records), and `erase` (erase a user here: a privacy request made in one
 * region is carried out in every region before it is answered). The lease holder of each region asks the others every
 * `repairIntervalMs`; `compare(peer)` runs one round on demand.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { HybridLogicalClock } from '../domain/hlc.js';
import type { ChangeRecord } from '../domain/parts.js';
import type { SessionStore } from '../store/session-store.js';
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
/** Buckets whose sessions one question asks for (a wiped region asks for every bucket). */
const BUCKETS_PER_QUESTION = 16;

export interface RepairOutcome {
  readonly peer: string;
  readonly buckets: number;
  readonly differing: number;
  readonly pulled: number;
  readonly pushed: number;
}

/** XOR of 64-bit hex digests. */
function xorHex(a: string, b: string): string {
  const hi = (Number.parseInt(a.slice(0, 8), 16) ^ Number.parseInt(b.slice(0, 8), 16)) >>> 0;
  const lo = (Number.parseInt(a.slice(8, 16), 16) ^ Number.parseInt(b.slice(8, 16), 16)) >>> 0;
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

const ZERO = '0000000000000000';

/** A bucket's digest: its sessions' digests XORed. */
function digestsOf(index: ReadonlyMap<number, ReadonlyMap<string, string>>): Map<number, string> {
  const digests = new Map<number, string>();
  for (const [bucket, sessions] of index) {
    let digest = ZERO;
    for (const sessionDigest of sessions.values()) digest = xorHex(digest, sessionDigest);
    digests.set(bucket, digest);
  }
  return digests;
}

export class AntiEntropy {
  readonly #subscriptions: Subscription[] = [];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;

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
        buckets: async () => Object.fromEntries(digestsOf(await this.#index())),
        // `bucket` alone is how nodes before batched questions asked; they read the flat answer.
        sessions: async (body: { bucket?: number; buckets?: number[] }) => {
          const index = await this.#index();
          if (body.buckets === undefined) return Object.fromEntries(index.get(body.bucket ?? -1) ?? []);
          return Object.fromEntries(body.buckets.slice(0, BUCKETS_PER_QUESTION).map((bucket) => [bucket, Object.fromEntries(index.get(bucket) ?? [])]));
        },
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
    this.#timer ??= setInterval(() => {
      this.#running ??= this.compareAll()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'comparing sessions with other regions failed'))
        .finally(() => {
          this.#running = null;
        });
    }, this.settings.repairIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async compareAll(): Promise<RepairOutcome[]> {
    const outcomes: RepairOutcome[] = [];
    for (const peer of this.settings.regions) {
      if (peer === this.settings.region) continue;
      try {
        outcomes.push(await this.compare(peer));
        this.observer.repairRound(peer, 'ok');
      } catch (error) {
        this.observer.repairRound(peer, 'failed');
        this.logger.warn({ err: error, peer }, 'comparing sessions with a region failed (it may be away)');
      }
    }
    return outcomes;
  }

  /** One comparison with a peer region: buckets, then sessions, then both ways the snapshots of those that differ. */
  async compare(peer: string): Promise<RepairOutcome> {
    // One scan of our store serves the whole round: its buckets' digests and the sessions in each.
    const index = await this.#index();
    const ours = digestsOf(index);
    const theirs = new Map(Object.entries((await this.#ask(peer, 'buckets', {})) as Record<string, string>));
    const differing: number[] = [];
    for (let bucket = 0; bucket < this.settings.repairBuckets; bucket += 1) {
      if ((ours.get(bucket) ?? ZERO) !== (theirs.get(String(bucket)) ?? ZERO)) differing.push(bucket);
    }
    let pulled = 0;
    let pushed = 0;
    for (let start = 0; start < differing.length; start += BUCKETS_PER_QUESTION) {
      const asked = differing.slice(start, start + BUCKETS_PER_QUESTION);
      const answer = await this.#sessionsOf(peer, asked);
      for (const bucket of asked) {
        const mine = index.get(bucket) ?? new Map<string, string>();
        const other = new Map(Object.entries(answer[String(bucket)] ?? {}));
        const pull = [...other].filter(([id, digest]) => mine.get(id) !== digest).map(([id]) => id);
        const push = [...mine].filter(([id, digest]) => other.get(id) !== digest).map(([id]) => id);
        await this.#pull(peer, pull);
        await this.#push(peer, push);
        pulled += pull.length;
        pushed += push.length;
      }
      this.observer.rebuildProgress(peer, Math.min(start + BUCKETS_PER_QUESTION, differing.length), differing.length);
    }
    if (pulled + pushed > 0) {
      this.observer.repaired(peer, pulled + pushed);
      this.logger.info({ peer, buckets: differing.length, pulled, pushed }, 'sessions that differed from another region were exchanged');
    }
    return { peer, buckets: this.settings.repairBuckets, differing: differing.length, pulled, pushed };
  }

  /**
   * The peer's session digests of these buckets. An answer too large for one
   * message (a few hundred thousand sessions in 16 buckets) is asked again
   * bucket by bucket.
   */
  async #sessionsOf(peer: string, buckets: readonly number[]): Promise<Record<string, Record<string, string>>> {
    try {
      return (await this.#ask(peer, 'sessions', { buckets })) as Record<string, Record<string, string>>;
    } catch (error) {
      if (buckets.length === 1 || !/max_payload/.test((error as Error).message)) throw error;
      const answer: Record<string, Record<string, string>> = {};
      for (const bucket of buckets) Object.assign(answer, await this.#sessionsOf(peer, [bucket]));
      return answer;
    }
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

  /** Every session's digest, by bucket: one scan of the store. */
  async #index(): Promise<Map<number, Map<string, string>>> {
    const index = new Map<number, Map<string, string>>();
    await this.#scan((id, digest) => {
      const bucket = shardOf(id, this.settings.repairBuckets);
      let sessions = index.get(bucket);
      if (sessions === undefined) index.set(bucket, (sessions = new Map()));
      sessions.set(id, digest);
    });
    return index;
  }

  async #scan(each: (id: string, digest: string) => void): Promise<void> {
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Awaited<ReturnType<SessionStore['scan']>> = await this.store.scan(cursor, 500);
      for (const { id, digest } of page.sessions) each(id, digest);
      cursor = page.next;
    }
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

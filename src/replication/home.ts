/**
 * Who orders the auth changes of each home region's sessions, and when.
 *
 * Every session has a home region (in its id). Its home orders its auth
 * changes — one at a time per session — while it holds its home lease; when
 * a home region is lost, another region takes its sessions over, fenced by an
 * epoch, and gives them back when it returns.
 *
 * - **Epochs** (`TESSERA_EPOCHS`, a replica per region): one record per change
 *   of owner — `{home, owner, epoch, fence}` — appended with stream-level
 *   compare-and-set (`Nats-Expected-Last-Sequence`, correct on 2.9.10; the
 *   per-subject kind, and so KV `update`, is not). No record for a home: it
 *   owns itself at epoch 0. `fence` names, per global stream, the last
 *   sequence the old owner published: what the new owner applied before it
 *   took over. An auth change published past its epoch's fence is ignored by
 *   every applier (an owner that was paused while it was taken over).
 * - **Heartbeats** (KV bucket `tessera_homes`, key = home, plain `put`s):
 *   every node of the owning region writes its homes' keys every
 *   `HEARTBEAT_MS`. A node *holds* a home for `HOLD_MS` after the start of its
 *   last heartbeat that NATS acknowledged (a majority of regions), by its own
 *   monotonic clock — a node paused or cut off stops holding by itself. To
 *   hold again after a lapse it first appends a mark to the epoch stream and
 *   reads every record up to it: a server that was cut off may still answer
 *   as a leader that has been replaced, and its view of the epochs with it.
 * - **Takeover**: a region whose own heartbeats get through, and that has
 *   seen no new heartbeat of a home for `TAKEOVER_MS` (> `HOLD_MS` + margin),
 *   reads the old owner's global streams' last sequences, waits until it has
 *   applied them, and appends the next epoch with that fence. Several regions
 *   may try; the compare-and-set lets one win.
 * - **Handback**: a home region that finds itself taken over, and whose own
 *   rounds have gone through for `RECLAIM_STEADY_MS` and can append to the
 *   epoch stream (what it needs to hold its home), asks the owner to give it
 *   back; the owner stops ordering those sessions (new auth changes
 *   for them answer 503, retryable), lets its in-flight ones finish, and
 *   appends the epoch that names the home again, fenced at its own streams.
 *   The home orders again once it has applied up to that fence: at no moment
 *   do two regions order one session.
 * - **Records kept in three places** (D90): NATS 2.9.10 can lose acknowledged
 *   messages of a stream whose replicas diverged (seen once on this one: a
 *   takeover gone after a heal, its region's own node holding the home at
 *   the old epoch). So an owner's heartbeat carries its epoch's record, every
 *   node reads every home's heartbeat each round *before* it beats, a node
 *   asks the other regions for their records before it holds again after a
 *   lapse, and an applier that meets an epoch it does not know waits until
 *   it has learned it (`admits`), from the stream, a heartbeat or the other
 *   regions. A record learned once is never forgotten: an epoch stream that
 *   went back (fewer messages, or other messages at the sequences read) is
 *   read again from its start, and what it lost is kept.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { streamName } from './layout.js';
import { ask } from './questions.js';
import { EpochBook, type EpochRecord, type Verdict } from './epochs.js';
import type { ReplicationSettings } from './settings.js';

export type { EpochRecord } from './epochs.js';

export const EPOCH_STREAM = 'TESSERA_EPOCHS';
const EPOCH_SUBJECT = 'tessera.epoch';
/** Tries at appending an epoch record while the stream keeps moving (marks) and the record is still due. */
const APPEND_ATTEMPTS = 5;
/** Marks a node appends to the epoch stream to learn its true end (see `#confirmEpochs`); not records. */
const MARK_SUBJECT = `${EPOCH_SUBJECT}.mark`;
const HEARTBEAT_BUCKET = 'tessera_homes';
/** How often the owning region's nodes write their homes' heartbeats. */
export const HEARTBEAT_MS = 500;
/** Rounds in a row (one per heartbeat: 10 s) a step may fail before it is logged at warn, and again after each as many. */
const PERSISTENT_FAILURE_ROUNDS = 20;
/**
 * How long a node holds a home after its last acknowledged heartbeat started: long enough to ride
 * out most leader elections of the heartbeat bucket (NATS 2.9.10 has no pre-vote, so even a healed
 * region's return can force one), short enough to end well before anyone can take over.
 */
export const HOLD_MS = 5_500;
/** How long another region waits, having seen no heartbeat of a home, before it takes it over. */
export const TAKEOVER_MS = 7_000;
/**
 * How long a region's rounds must all have gone through (epochs read, own heartbeat acknowledged)
 * before it asks for its home back. A region just restarted can see its JetStream come and go for
 * a while (its return forces elections); one that reclaimed at its first good round could then
 * fail to beat for `TAKEOVER_MS` and be taken over again (seen once in CI).
 */
export const RECLAIM_STEADY_MS = 5_000;
/** How long a region waits after asking for its home back in vain before it asks again (each ask appends a mark first). */
const RECLAIM_RETRY_MS = 2_000;
/**
 * More new messages than this are read in batches through a consumer, not one request each: a
 * node in a region without the stream's leader pays a round trip per request (measured at 80 ms
 * between regions: 42 s to start with 500 messages in the stream, 165 s with 2,000). Marks make the
 * stream grow with every node's start.
 */
const READ_ONE_BY_ONE = 16;
/** Messages per batch of such a read. */
const READ_BATCH = 1_000;
/** How long an applier waits for its node to vouch for one of its region's own auth changes before it fails and retries (see `admits`). */
const OWN_CHANGE_WAIT_MS = 3 * HEARTBEAT_MS;
/** How long a node waits for another region's epoch records (best effort: an unreachable region is not waited for). */
const PEER_ASK_MS = 1_000;

/** What an owner's heartbeat says: who beat, and the epoch record it owns the home by (none at epoch 0; older nodes wrote none). */
interface Heartbeat {
  readonly owner: string;
  readonly node: string;
  readonly record?: EpochRecord;
}

/** Where a node took an epoch record from: the stream, or, when the stream did not give it, a heartbeat, another region, or an answer to the barrier. */
export type RecordSource = 'stream' | 'heartbeat' | 'region' | 'barrier';

/** What home ownership reports about the epoch records, for metrics (D90). */
export interface EpochObserver {
  /** The epoch stream went back past what this node had read, or lacked a message within it. */
  epochStreamFault(kind: 'went-back' | 'missing-message'): void;
  /** A record the stream had not given this node, taken from elsewhere. */
  epochLearned(source: Exclude<RecordSource, 'stream'>): void;
  /** A second record of an epoch of `home` this node knew, naming another owner: two regions may order that home. */
  epochConflict(home: string): void;
}

const QUIET: EpochObserver = { epochStreamFault: () => {}, epochLearned: () => {}, epochConflict: () => {} };

/** Waits until this region has applied a stream up to a sequence (the applier's position). */
export type AppliedUpTo = (stream: string, sequence: number, waitMs: number) => Promise<boolean>;

export class HomeOwnership {
  /** The epoch records seen, in order, per home. */
  readonly #book: EpochBook;
  /** The epoch stream's last message read here, and when it was stored: a stream that went back is told by these. */
  #lastEpochSeq = 0;
  #lastEpochTime: number | null = null;
  /** Reads of the epoch stream, one at a time (a round, an applier and an append may each read). */
  #reading: Promise<void> = Promise.resolve();
  /** Set when the stream lacked a message it should hold: the next round asks the other regions for their records. */
  #askPeersDue = false;
  /** The heartbeat bucket, bound in `start`. */
  #kv: KV | null = null;
  /** When a heartbeat that NATS acknowledged last started, per home this region owns (monotonic ms). */
  readonly #heldSince = new Map<string, number>();
  /** When each home's heartbeat was last seen to change, its revision then, and the epoch it was watched at (monotonic ms). */
  readonly #seen = new Map<string, { revision: number; at: number; epoch: number }>();
  /** Monotonic time of this node's last acknowledged heartbeat of any home: proof that the heartbeats get through. */
  #ownBeatAt = -Infinity;
  /** Since when every round has gone through with its heartbeat acknowledged (monotonic ms); null after one did not. */
  #steadySince: number | null = null;
  /** Not before this (monotonic ms) does the next ask for our home back go out. */
  #reclaimAfter = -Infinity;
  /**
   * Per home this region owns: the epoch whose fences this node has applied
   * up to. A node orders (and trusts its copy) only at that epoch: a home
   * handed back, or taken over, is not held before the previous owner's
   * last auth changes are applied here.
   */
  readonly #readyAt = new Map<string, number>();
  /** Homes this region is handing back: their auth changes wait (503) until the epoch is appended. */
  readonly #releasing = new Set<string>();
  readonly #inFlight = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #stopped = false;
  /** Steps that failed in a row, by kind (see `#failed`). */
  readonly #failures = new Map<string, number>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly appliedUpTo: AppliedUpTo,
    private readonly observer: EpochObserver = QUIET,
  ) {
    this.#book = new EpochBook(settings.regions);
  }

  /** Creates the epoch stream (idempotently) and starts following it and the heartbeats. */
  async start(): Promise<void> {
    try {
      await this.jsm.streams.info(EPOCH_STREAM);
    } catch {
      await this.jsm.streams
        .add({
          name: EPOCH_STREAM,
          subjects: [`${EPOCH_SUBJECT}.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          num_replicas: this.settings.regions.length,
        })
        .catch((error: unknown) => {
          if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
        });
    }
    // Made here, not in the constructor: a start that fails before awaiting it would leave its
    // rejection unobserved, and Node ends the process on that (seen in CI: a bucket timeout
    // while the meta group was electing exited the node instead of retrying).
    this.#kv = await new Kvm(this.nc).create(HEARTBEAT_BUCKET, { replicas: this.settings.regions.length, history: 1 });
    await this.#follow();
    this.#timer = setInterval(() => void this.#round(), HEARTBEAT_MS);
  }

  #bucket(): KV {
    if (this.#kv === null) throw new Error('home ownership used before start()');
    return this.#kv;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  /** The region ordering a home's sessions now, and its epoch. */
  ownerOf(home: string): { readonly owner: string; readonly epoch: number } {
    return this.#book.ownerOf(home);
  }

  /**
   * Whether this node may order a home's sessions now: its region owns it,
   * this node has applied what the previous owners published, and its
   * heartbeat is fresh.
   */
  holds(home: string): boolean {
    const { owner, epoch } = this.ownerOf(home);
    if (owner !== this.settings.region || this.#releasing.has(home) || this.#readyAt.get(home) !== epoch) return false;
    const since = this.#heldSince.get(home);
    return since !== undefined && performance.now() - since < HOLD_MS;
  }

  /**
   * Whether an applier joins an auth change (`judge`), learning first what
   * it needs to tell: from the epoch stream, the home's heartbeat, then the
   * other regions. An epoch that none of them gives yet throws: the stream
   * waits rather than ignore a change of an owner this node has not heard of
   * (a revocation ignored here would leave this copy accepting the token). A
   * record missing between two known ones that no region gives any more is
   * judged valid, logged: a change applied that did not count is a lesser
   * harm than a revocation missed. This region's own changes wait until they
   * are known to count (see inside).
   */
  async admits(home: string, origin: string, epoch: number, stream: string, sequence: number): Promise<boolean> {
    const verdict = (): Verdict => this.#book.judge(home, origin, epoch, stream, sequence);
    if (verdict() === 'unknown') await this.#readEpochs().catch(() => undefined);
    if (verdict() === 'unknown') this.#learnFromBeat(home, await this.#bucket().get(home).catch(() => null));
    if (verdict() === 'unknown') await this.#askPeers([home]);
    const settled = verdict();
    if (settled === 'valid' && origin === this.settings.region && !(await this.#vouchesSoon(home, epoch))) {
      // This region's own change, read back from its global stream (a publish that timed out, or a
      // replay after a restart). Joined here, it goes out again through the change feed with no epoch
      // to judge it by, so it must be known to count: a later epoch's fence covers it, or this node
      // holds the home at its epoch (no later one can exist). A node that was taken over without
      // knowing it yet would otherwise send out a change that counts nowhere.
      throw new Error(`an auth change of this region's for home "${home}" at epoch ${epoch}, read back while this node can neither vouch for the home nor knows the epoch after; waiting`);
    }
    if (settled !== 'unknown') return settled === 'valid';
    if (epoch > this.ownerOf(home).epoch) {
      throw new Error(`an auth change of home "${home}" at epoch ${epoch} (from ${origin}), an epoch no region has told this node of yet; waiting`);
    }
    this.logger.error({ home, origin, epoch, stream, sequence }, 'an auth change of an epoch whose record no region holds any more: applied');
    return true;
  }

  /**
   * Whether an auth change of `home` at `epoch` that judges valid is known to
   * count: a later epoch's fence covers it, or this node holds the home at
   * that epoch. Waits up to `OWN_CHANGE_WAIT_MS` for it: a node that has just
   * started holds its home within a round or two, and its applier need not
   * fail and back off meanwhile.
   */
  async #vouchesSoon(home: string, epoch: number): Promise<boolean> {
    const vouches = (): boolean => this.#book.knows(home, epoch + 1) || (this.current(home) && this.ownerOf(home).epoch === epoch);
    const until = performance.now() + OWN_CHANGE_WAIT_MS;
    while (!vouches()) {
      if (performance.now() >= until || this.#stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS / 10));
    }
    return true;
  }

  /**
   * Takes in an epoch record from the stream, a heartbeat or another region;
   * returns whether it was new here (`EpochBook.add`). `from` names the
   * region that told it, where one did.
   */
  learn(record: unknown, source: RecordSource, from?: string): boolean {
    const outcome = this.#book.add(record);
    if (outcome.kind === 'malformed') this.logger.warn({ source, from }, 'an epoch record that is not one: ignored');
    else if (outcome.kind === 'conflict') {
      const { home, epoch } = outcome.known;
      this.logger.error({ home, epoch, known: outcome.known.owner, told: outcome.record.owner, source, from }, 'two records of one epoch of a home: keeping the one known first');
      this.observer.epochConflict(home);
    } else if (outcome.kind === 'new' && source !== 'stream') {
      const { home, owner, epoch } = outcome.record;
      this.logger.warn({ home, owner, epoch, source, from }, 'learned an epoch record that the epoch stream did not give this node');
      this.observer.epochLearned(source);
    }
    return outcome.kind === 'new';
  }

  /** The epoch records this node knows of some homes (what another region's `epochs` question is answered with). */
  records(homes: readonly string[]): EpochRecord[] {
    return this.#book.records(homes);
  }

  /** A home's latest epoch record this node knows: the one its owner beats with, and the barrier answers with. */
  latest(home: string): EpochRecord | undefined {
    return this.#book.latest(home);
  }

  /**
   * Whether this node's copy is current for a home's sessions (token checks):
   * as `holds`, but for as long as no other region can have taken the home
   * over — a second short of `TAKEOVER_MS` since the last acknowledged
   * heartbeat began — so that checks ride out a heartbeat-bucket election that
   * orders would not.
   */
  current(home: string): boolean {
    const { owner, epoch } = this.ownerOf(home);
    if (owner !== this.settings.region || this.#readyAt.get(home) !== epoch) return false;
    const since = this.#heldSince.get(home);
    return since !== undefined && performance.now() - since < TAKEOVER_MS - 1_000;
  }

  /** The fences of every change of owner of a home: what a copy must have applied to speak for its sessions. */
  fences(home: string): ReadonlyArray<Readonly<Record<string, number>>> {
    return this.#book.records([home]).map((record) => record.fence);
  }

  /** Counts an auth change being ordered (so a handback waits for it); returns its release. */
  begin(home: string): () => void {
    this.#inFlight.set(home, (this.#inFlight.get(home) ?? 0) + 1);
    return () => this.#inFlight.set(home, (this.#inFlight.get(home) ?? 1) - 1);
  }

  /** The owner's side of a handback: stop ordering `home`, let in-flight changes finish, give it back. */
  async handBack(home: string): Promise<boolean> {
    const { owner, epoch } = this.ownerOf(home);
    if (owner !== this.settings.region || home === this.settings.region) return owner === home;
    this.#releasing.add(home);
    try {
      const deadline = Date.now() + 5_000;
      while ((this.#inFlight.get(home) ?? 0) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const fence = await this.#lastSequences(this.settings.region);
      return await this.#append({ home, owner: home, epoch: epoch + 1, fence });
    } finally {
      this.#releasing.delete(home);
    }
  }

  /** One round: follow the epochs, beat for the homes this region owns, take over homes gone silent, ask for our own back. */
  async #round(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    const started = performance.now();
    try {
      const revisions = await this.#follow();
      await this.#beat();
      this.#steadySince = this.#ownBeatAt >= started ? (this.#steadySince ?? started) : null;
      await this.#watch(revisions);
      await this.#reclaim();
      this.#failures.delete('round');
    } catch (error) {
      this.#steadySince = null;
      this.#failed('round', { err: error }, 'home ownership round failed');
    } finally {
      this.#busy = false;
    }
  }

  async #beat(): Promise<void> {
    const kv = this.#bucket();
    const ownedNow = (): string[] => this.settings.regions.filter((home) => this.ownerOf(home).owner === this.settings.region);
    const lapsed = (home: string): boolean => {
      const since = this.#heldSince.get(home);
      return since === undefined || performance.now() - since >= HOLD_MS;
    };
    // Holding again after a lapse (start-up, a cut, a pause): first learn every epoch appended meanwhile
    // from the stream's real leader — a server that was cut off may still answer as a replaced one.
    // The other regions are asked too (best effort): the stream itself can lose a record (D90).
    const lapsedHomes = ownedNow().filter(lapsed);
    if (lapsedHomes.length > 0) {
      try {
        await this.#confirmEpochs();
        this.#failures.delete('confirm');
      } catch (error) {
        this.#failed('confirm', { err: error }, 'cannot confirm the epochs with a majority of regions; not holding');
        return;
      }
      await this.#askPeers(lapsedHomes);
    }
    const owned = ownedNow();
    for (const home of owned) await this.#ready(home);
    const beat = async (key: string, home?: string): Promise<void> => {
      const started = performance.now();
      const record = home === undefined ? undefined : this.#book.latest(home);
      const heartbeat: Heartbeat = { owner: this.settings.region, node: this.settings.nodeId, ...(record === undefined ? {} : { record }) };
      try {
        await kv.put(key, JSON.stringify(heartbeat));
        if (home !== undefined) this.#heldSince.set(home, started);
        this.#ownBeatAt = Math.max(this.#ownBeatAt, started);
      } catch {
        // Not acknowledged: the hold runs out by itself.
      }
    };
    // A region that owns no home now (its own taken over) still proves that its writes get through.
    await Promise.all(owned.length > 0 ? owned.map((home) => beat(home, home)) : [beat(`alive.${this.settings.region}`)]);
  }

  /** When this node's last write that a majority of regions acknowledged began (monotonic ms): its heartbeat. */
  lastAcknowledged(): number {
    return this.#ownBeatAt;
  }

  /** Marks a home this region owns ready at its epoch once every fence of its epochs is applied here (waits a moment at most). */
  async #ready(home: string): Promise<void> {
    const { epoch } = this.ownerOf(home);
    if (this.#readyAt.get(home) === epoch) return;
    for (const fence of this.fences(home)) {
      for (const [stream, sequence] of Object.entries(fence)) {
        if (!(await this.appliedUpTo(stream, sequence, HEARTBEAT_MS))) return;
      }
    }
    this.#readyAt.set(home, epoch);
  }

  /**
   * Learns the epochs: the stream's new records, the other regions' when the
   * stream lacked a message, then every home's heartbeat — before this node
   * beats: an owner's beat carries its epoch's record, which this node may
   * lack, and must learn before it beats for a home that is not its own any
   * more. Returns each heartbeat's revision (see `#readBeats`).
   */
  async #follow(): Promise<Map<string, number>> {
    await this.#readEpochs();
    if (this.#askPeersDue) {
      this.#askPeersDue = false;
      await this.#askPeers(this.settings.regions);
    }
    return this.#readBeats();
  }

  /** Reads every home's heartbeat and learns the epoch record it carries; returns each one's revision (absent: unreadable now). */
  async #readBeats(): Promise<Map<string, number>> {
    const kv = this.#bucket();
    const revisions = new Map<string, number>();
    for (const home of this.settings.regions) {
      try {
        const entry = await kv.get(home);
        this.#learnFromBeat(home, entry);
        revisions.set(home, entry?.revision ?? 0);
      } catch (error) {
        this.logger.debug({ err: error, home }, 'cannot read a home\'s heartbeat');
      }
    }
    return revisions;
  }

  #learnFromBeat(home: string, entry: { readonly value: Uint8Array } | null): void {
    if (entry === null || entry.value.length === 0) return;
    let heartbeat: unknown;
    try {
      heartbeat = JSON.parse(Buffer.from(entry.value).toString('utf8'));
    } catch {
      return;
    }
    // Whatever the value holds, its revision still counts as a beat (`#watch`): only a record is taken from it.
    if (typeof heartbeat !== 'object' || heartbeat === null) return;
    const { record, owner } = heartbeat as Partial<Heartbeat>;
    if (typeof record === 'object' && record !== null && record.home === home) this.learn(record, 'heartbeat', typeof owner === 'string' ? owner : undefined);
  }

  /** Asks every other region for its epoch records of some homes and learns them; a region that does not answer in time is passed over. */
  async #askPeers(homes: readonly string[]): Promise<void> {
    const others = this.settings.regions.filter((region) => region !== this.settings.region);
    await Promise.all(
      others.map(async (region) => {
        try {
          const answer = (await ask(this.nc, 'home', region, 'epochs', { homes }, PEER_ASK_MS)) as { records?: unknown[] };
          for (const record of answer.records ?? []) this.learn(record, 'region', region);
        } catch (error) {
          this.logger.debug({ err: error, region }, 'a region did not give its epoch records');
        }
      }),
    );
  }

  /** Takes over a home whose owner has been silent (by the heartbeats' revisions read this round) while ours got through. */
  async #watch(revisions: ReadonlyMap<string, number>): Promise<void> {
    const now = performance.now();
    for (const home of this.settings.regions) {
      const { owner, epoch } = this.ownerOf(home);
      if (owner === this.settings.region) continue;
      const revision = revisions.get(home);
      if (revision === undefined) continue;
      const seen = this.#seen.get(home);
      // A new owner (a takeover or handback just appended) gets a whole silence of its own before anyone takes over from it.
      if (seen === undefined || seen.revision !== revision || seen.epoch !== epoch) {
        this.#seen.set(home, { revision, at: now, epoch });
        continue;
      }
      // Silence counts only while our own heartbeats get through: a stalled heartbeat bucket is no proof of death.
      if (now - this.#ownBeatAt > 2 * HEARTBEAT_MS) {
        this.logger.debug({ home, sinceOwnBeat: Math.round(now - this.#ownBeatAt) }, 'a home is silent, but so are our own heartbeats: not counting');
        this.#seen.set(home, { revision, at: now, epoch });
        continue;
      }
      if (now - seen.at < TAKEOVER_MS + this.#stagger(owner)) continue;
      await this.#takeOver(home);
      this.#seen.set(home, { revision, at: performance.now(), epoch: this.ownerOf(home).epoch });
    }
  }

  /** The regions after the lost owner in TESSERA_REGIONS try first; the others later, so one usually tries alone. */
  #stagger(lostOwner: string): number {
    const regions = this.settings.regions;
    const from = regions.indexOf(lostOwner);
    const mine = regions.indexOf(this.settings.region);
    return (((mine - from + regions.length) % regions.length) - 1) * 1_000;
  }

  async #takeOver(home: string): Promise<void> {
    const { owner, epoch } = this.ownerOf(home);
    const fence = await this.#lastSequences(owner);
    for (const [stream, sequence] of Object.entries(fence)) {
      if (!(await this.appliedUpTo(stream, sequence, 10_000))) {
        this.logger.warn({ home, owner, stream, sequence }, 'cannot take a silent home over yet: its last auth changes are not applied here');
        return;
      }
    }
    if (await this.#append({ home, owner: this.settings.region, epoch: epoch + 1, fence })) {
      this.logger.warn({ home, from: owner, epoch: epoch + 1 }, 'took over the sessions of a home region gone silent');
    }
  }

  /**
   * Our own home taken over while we were away, and we are back: ask its
   * owner to give it back — once this node's rounds have been steady for
   * `RECLAIM_STEADY_MS` and it can append to the epoch stream, which it must
   * to hold the home after (`#beat` confirms the epochs after a lapse). A
   * home given back to a region that cannot beat for it is taken over again.
   */
  async #reclaim(): Promise<void> {
    const home = this.settings.region;
    const now = performance.now();
    if (this.ownerOf(home).owner === home || this.#steadySince === null || now - this.#steadySince < RECLAIM_STEADY_MS || now < this.#reclaimAfter) return;
    try {
      await this.#confirmEpochs();
    } catch (error) {
      this.#failed('reclaim', { err: error }, 'cannot append to the epoch stream yet; not asking for this region’s sessions back');
      return;
    }
    const { owner } = this.ownerOf(home);
    if (owner === home) return;
    this.#reclaimAfter = performance.now() + RECLAIM_RETRY_MS;
    try {
      await ask(this.nc, 'home', owner, 'handback', { home }, 10_000);
      await this.#readEpochs();
      const last = this.#book.latest(home);
      if (last?.owner === home) {
        for (const [stream, sequence] of Object.entries(last.fence)) await this.appliedUpTo(stream, sequence, 30_000);
        this.logger.warn({ home, epoch: last.epoch }, 'this region was given its sessions back');
        this.#failures.delete('reclaim');
      } else {
        this.#failed('reclaim', { owner, epoch: last?.epoch }, 'asked for this region’s sessions back; they are still elsewhere');
      }
    } catch (error) {
      this.#failed('reclaim', { err: error, owner }, 'asking for this region’s sessions back failed; will ask again');
    }
  }

  /**
   * A step that fails every round: at debug level (routine while NATS elects
   * leaders after a heal), and at warn once it has failed
   * `PERSISTENT_FAILURE_ROUNDS` rounds in a row, then every as many again.
   */
  #failed(kind: string, fields: Record<string, unknown>, message: string): void {
    const inARow = (this.#failures.get(kind) ?? 0) + 1;
    this.#failures.set(kind, inARow);
    this.logger[inARow % PERSISTENT_FAILURE_ROUNDS === 0 ? 'warn' : 'debug']({ ...fields, failedInARow: inARow }, message);
  }

  /** The last sequence of each of a region's global streams. */
  async #lastSequences(origin: string): Promise<Record<string, number>> {
    const fence: Record<string, number> = {};
    for (let shard = 0; shard < this.settings.shards; shard += 1) {
      const stream = streamName({ origin, durability: 'global', shard });
      fence[stream] = (await this.jsm.streams.info(stream)).state.last_seq;
    }
    return fence;
  }

  /** Appends an epoch record if the stream is still where we last read it (stream-level compare-and-set). */
  async #append(record: EpochRecord): Promise<boolean> {
    // The stream moves on with other nodes' marks too: while the record would still be the next epoch
    // of its home, try again at the new end; once another epoch of the home is there, give up.
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt += 1) {
      if (this.ownerOf(record.home).epoch !== record.epoch - 1) return false;
      try {
        await this.js.publish(`${EPOCH_SUBJECT}.${record.home}`, JSON.stringify(record), { expect: { lastSequence: this.#lastEpochSeq }, timeout: 10_000 });
        await this.#readEpochs();
        return this.ownerOf(record.home).epoch === record.epoch && this.ownerOf(record.home).owner === record.owner;
      } catch (error) {
        this.logger.debug({ err: error, home: record.home, attempt }, 'the epoch stream moved on before the append; reading it again');
        await this.#readEpochs().catch(() => undefined);
      }
    }
    return false;
  }

  /**
   * Appends a mark to the epoch stream and reads every record up to it. Only
   * the stream's real leader, with a majority of regions, can acknowledge the
   * mark, so the view that results holds every epoch appended before now.
   */
  async #confirmEpochs(): Promise<void> {
    const node = this.settings.nodeId.replace(/[^A-Za-z0-9_-]/g, '_');
    const ack = await this.js.publish(`${MARK_SUBJECT}.${node}`, '', { timeout: 5_000 });
    await this.#readEpochs(ack.seq);
  }

  /** Reads the epoch records appended since the last read (up to `upTo`, or as far as the stream's info says), one read at a time. */
  #readEpochs(upTo?: number): Promise<void> {
    const read = this.#reading.then(() => this.#readEpochsNow(upTo));
    this.#reading = read.catch(() => undefined);
    return read;
  }

  async #readEpochsNow(upTo?: number): Promise<void> {
    let state = upTo === undefined ? (await this.jsm.streams.info(EPOCH_STREAM)).state : null;
    const last = upTo ?? state!.last_seq;
    if (await this.#wentBack(last, state)) {
      state ??= (await this.jsm.streams.info(EPOCH_STREAM)).state;
      this.logger.warn(
        { read: this.#lastEpochSeq, streamEnds: state.last_seq },
        'the epoch stream went back (it lost messages this node had read): reading it again from its start, keeping every record known',
      );
      [this.#lastEpochSeq, this.#lastEpochTime] = [Math.max(0, state.first_seq - 1), null];
      this.#askPeersDue = true;
      this.observer.epochStreamFault('went-back');
    }
    if (last - this.#lastEpochSeq > READ_ONE_BY_ONE) {
      await this.#readInBatches(last);
      return;
    }
    for (let seq = this.#lastEpochSeq + 1; seq <= last; seq += 1) {
      // A record that cannot be read now is read again next round, never skipped: a node that missed
      // a takeover would think it still owned the home. One the stream no longer holds is passed over,
      // and the other regions are asked for their records (D90).
      const message = await this.jsm.streams.getMessage(EPOCH_STREAM, { seq });
      if (message === null) {
        const now = (await this.jsm.streams.info(EPOCH_STREAM)).state;
        if (seq > now.last_seq) return;
        this.#missing(seq, seq);
        continue;
      }
      this.#take(seq, message.subject, () => message.json<unknown>(), message.time.getTime());
    }
  }

  /** Reads the stream up to `last` through an ordered consumer, a batch at a time (see `READ_ONE_BY_ONE`). */
  async #readInBatches(last: number): Promise<void> {
    const consumer = await this.js.consumers.get(EPOCH_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#lastEpochSeq + 1 });
    while (this.#lastEpochSeq < last) {
      const batch = await consumer.fetch({ max_messages: Math.min(READ_BATCH, last - this.#lastEpochSeq), expires: 5_000 });
      let read = 0;
      for await (const message of batch) {
        read += 1;
        // A consumer passes over messages the stream no longer holds: a jump in the sequence is one.
        if (message.seq > this.#lastEpochSeq + 1) this.#missing(this.#lastEpochSeq + 1, message.seq - 1);
        this.#take(message.seq, message.subject, () => message.json<unknown>(), Number(message.timestampNanos / 1_000_000n));
        if (message.seq >= last) break;
      }
      // Nothing more came: the stream ends before `last` (it went back meanwhile, which the next read tells).
      if (read === 0) return;
    }
  }

  /** One message of the epoch stream read: a record is learned, a mark only moves the position. */
  #take(seq: number, subject: string, record: () => unknown, storedAt: number): void {
    if (!subject.startsWith(`${MARK_SUBJECT}.`)) this.learn(record(), 'stream');
    [this.#lastEpochSeq, this.#lastEpochTime] = [seq, storedAt];
  }

  /** Messages `from`…`to` are not in the stream any more: passed over, and the other regions asked for their records (D90). */
  #missing(from: number, to: number): void {
    this.logger.warn({ from, to }, 'the epoch stream lacks messages within it: asking the other regions for their records');
    this.#askPeersDue = true;
    this.observer.epochStreamFault('missing-message');
    [this.#lastEpochSeq, this.#lastEpochTime] = [to, null];
  }

  /**
   * Whether the epoch stream went back since the last read: it ends before
   * the last message read, or another message now stands at its sequence
   * (the stream went back and grew again — NATS 2.9.10 after replicas
   * diverged).
   */
  async #wentBack(last: number, state: { readonly last_seq: number; readonly last_ts: string } | null): Promise<boolean> {
    if (this.#lastEpochSeq === 0) return false;
    if (last < this.#lastEpochSeq) return true;
    if (this.#lastEpochTime === null) return false;
    if (last === this.#lastEpochSeq) return state !== null && Date.parse(state.last_ts) !== this.#lastEpochTime;
    // Gone from a stream that still reaches past it: deleted, a hole (sequences are never given twice).
    const message = await this.jsm.streams.getMessage(EPOCH_STREAM, { seq: this.#lastEpochSeq });
    return message !== null && message.time.getTime() !== this.#lastEpochTime;
  }
}

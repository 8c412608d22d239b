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
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { streamName } from './layout.js';
import { ask } from './questions.js';
import type { ReplicationSettings } from './settings.js';

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

export interface EpochRecord {
  readonly home: string;
  readonly owner: string;
  readonly epoch: number;
  /** Per global stream of the previous owner: the last sequence that belongs to the previous epoch. */
  readonly fence: Readonly<Record<string, number>>;
}

/** Waits until this region has applied a stream up to a sequence (the applier's position). */
export type AppliedUpTo = (stream: string, sequence: number, waitMs: number) => Promise<boolean>;

export class HomeOwnership {
  /** The epoch records seen, in order, per home. */
  readonly #epochs = new Map<string, EpochRecord[]>();
  #lastEpochSeq = 0;
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
  ) {}

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
    await this.#readEpochs();
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
    const last = this.#epochs.get(home)?.at(-1);
    return last === undefined ? { owner: home, epoch: 0 } : { owner: last.owner, epoch: last.epoch };
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
   * Whether an auth change published by `origin` for `home` at `epoch`, stored
   * at `stream`:`sequence`, belongs to its epoch: the epoch is the owner's, and
   * the stream position is not past the fence of the epoch after it.
   */
  valid(home: string, origin: string, epoch: number, stream: string, sequence: number): boolean {
    const records = this.#epochs.get(home) ?? [];
    const current = epoch === 0 ? { owner: home, epoch: 0 } : records.find((r) => r.epoch === epoch);
    if (current === undefined || current.owner !== origin) return false;
    const next = records.find((r) => r.epoch === epoch + 1);
    if (next === undefined) return true;
    const fence = next.fence[stream];
    return fence !== undefined && sequence <= fence;
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
    return (this.#epochs.get(home) ?? []).map((record) => record.fence);
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
      await this.#readEpochs();
      await this.#beat();
      this.#steadySince = this.#ownBeatAt >= started ? (this.#steadySince ?? started) : null;
      await this.#watch();
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
    if (ownedNow().some(lapsed)) {
      try {
        await this.#confirmEpochs();
        this.#failures.delete('confirm');
      } catch (error) {
        this.#failed('confirm', { err: error }, 'cannot confirm the epochs with a majority of regions; not holding');
        return;
      }
    }
    const owned = ownedNow();
    for (const home of owned) await this.#ready(home);
    const beat = async (key: string, home?: string): Promise<void> => {
      const started = performance.now();
      try {
        await kv.put(key, JSON.stringify({ owner: this.settings.region, node: this.settings.nodeId }));
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

  /** Notes each home's heartbeat; takes over a home whose owner has been silent while ours got through. */
  async #watch(): Promise<void> {
    const kv = this.#bucket();
    const now = performance.now();
    for (const home of this.settings.regions) {
      const { owner, epoch } = this.ownerOf(home);
      if (owner === this.settings.region) continue;
      let revision = 0;
      try {
        revision = (await kv.get(home))?.revision ?? 0;
      } catch (error) {
        this.logger.debug({ err: error, home }, 'cannot read a home\'s heartbeat');
        continue;
      }
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
      const last = this.#epochs.get(home)?.at(-1);
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

  /** Reads the epoch records appended since the last read (up to `upTo`, or as far as the stream's info says). */
  async #readEpochs(upTo?: number): Promise<void> {
    const last = upTo ?? (await this.jsm.streams.info(EPOCH_STREAM)).state.last_seq;
    for (let seq = this.#lastEpochSeq + 1; seq <= last; seq += 1) {
      // A record that cannot be read now is read again next round, never skipped: a node that missed
      // a takeover would think it still owned the home.
      const message = await this.jsm.streams.getMessage(EPOCH_STREAM, { seq });
      if (message === null) throw new Error(`epoch record ${seq} could not be read`);
      if (!message.subject.startsWith(`${MARK_SUBJECT}.`)) {
        const record = message.json<EpochRecord>();
        const list = this.#epochs.get(record.home) ?? [];
        if (!list.some((r) => r.epoch === record.epoch)) list.push(record);
        this.#epochs.set(record.home, list);
      }
      this.#lastEpochSeq = seq;
    }
  }
}

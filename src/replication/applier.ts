/**
 * Follows every other region's streams and joins their changes into the
 * store. One loop per stream, each from the position it stored last (a mark
 * in the store, written after the changes it covers are joined: a crash
 * replays a little, and joins are idempotent). Records from other regions
 * are never appended to the feed, so nothing is sent back.
 */
import type { JsMsg, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { HybridLogicalClock } from '../domain/hlc.js';
import type { Change } from '../domain/parts.js';
import type { SessionStore } from '../store/session-store.js';
import { allStreams, decodeChange, streamName, type StreamRef } from './layout.js';
import type { ReplicationObserver } from './observer.js';
import type { ReplicationSettings } from './settings.js';

const BATCH = 256;
/** How long an idle follower sleeps between looks at its queue (a message wakes it at once). */
const FETCH_EXPIRES_MS = 1_000;
/**
 * After this long without a message, a follower asks the stream where it ends, and a consumer
 * that stopped delivering without an error is started again: otherwise the region stays short
 * of the stream, and so never fresh, with nothing logged (two regions stayed unfresh for 90 s
 * after a stream leader and the meta leader were killed together).
 */
const STALL_CHECK_MS = 5_000;

const markOf = (stream: string): string => `applied:${stream}`;

export class Applier {
  readonly #js: JetStreamClient;
  #jsm: Promise<JetStreamManager> | null = null;
  /** Applied positions of the streams this node follows, as it moves them. */
  readonly #positions = new Map<string, number>();
  #loops: Promise<void>[] = [];
  #stopping = false;

  constructor(
    nc: NatsConnection,
    private readonly store: SessionStore,
    private readonly clock: HybridLogicalClock,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly observer: ReplicationObserver,
    /**
     * Whether an auth change belongs to its epoch (`HomeOwnership.admits`); changes without one always do.
     * It may throw while the epoch is not known here yet: the batch is then tried again, never skipped.
     */
    private readonly accept: (change: Change, stream: string, sequence: number) => boolean | Promise<boolean> = () => true,
  ) {
    this.#js = jetstream(nc);
  }

  /** The position this region has applied a stream up to (what this node knows, else the store's mark). */
  async position(stream: string): Promise<number> {
    const known = this.#positions.get(stream);
    if (known !== undefined && this.#loops.length > 0) return known;
    return Number((await this.store.readMark(markOf(stream))) ?? 0);
  }

  start(): void {
    if (this.#loops.length > 0) return;
    this.#stopping = false;
    // Every other region's streams, and this region's global ones: a change whose publish timed out
    // (not applied here, the writer answered 503) may still have been stored, and must then apply here too.
    const followed = allStreams(this.settings.regions, this.settings.shards).filter((ref) => ref.origin !== this.settings.region || ref.durability === 'global');
    this.#loops = followed.map((ref) => this.#follow(ref));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #follow(ref: StreamRef): Promise<void> {
    const stream = streamName(ref);
    let failures = 0;
    while (!this.#stopping) {
      try {
        let applied = Number((await this.store.readMark(markOf(stream))) ?? 0);
        this.#positions.set(stream, applied);
        const consumer = await this.#js.consumers.get(stream, { opt_start_seq: applied + 1 });
        // Messages stream in as they are stored; whatever has arrived is joined as one batch.
        const messages = await consumer.consume({ max_messages: BATCH });
        const queue: JsMsg[] = [];
        const signal: { wake: (() => void) | null; ended: unknown } = { wake: null, ended: null };
        const pump = (async () => {
          try {
            for await (const message of messages) {
              queue.push(message);
              signal.wake?.();
            }
          } catch (error) {
            signal.ended = error;
          }
          signal.ended ??= new Error('the stream consumer stopped');
          signal.wake?.();
        })();
        let heardAt = performance.now();
        try {
          while (!this.#stopping) {
            if (queue.length === 0) {
              if (signal.ended !== null) throw signal.ended;
              if (performance.now() - heardAt >= STALL_CHECK_MS) {
                heardAt = performance.now();
                await this.#checkNotStalled(stream, applied);
              }
              this.observer.lag(ref.origin, stream, 0, 0);
              await new Promise<void>((resolve) => {
                signal.wake = resolve;
                setTimeout(resolve, FETCH_EXPIRES_MS);
              });
              signal.wake = null;
              continue;
            }
            heardAt = performance.now();
            const batch = queue.splice(0, BATCH);
            const first = batch[0]!.seq;
            if (first > applied + 1) {
              this.logger.warn({ stream, from: applied + 1, to: first - 1 }, 'changes expired from the stream before they were applied; the repair will compare sessions');
            }
            await this.#apply(ref, stream, batch);
            applied = batch.at(-1)!.seq;
            await this.store.writeMark(markOf(stream), String(applied));
            this.#positions.set(stream, applied);
            failures = 0;
          }
        } finally {
          await messages.close().catch(() => undefined);
          await pump;
        }
      } catch (error) {
        failures += 1;
        if (failures === 1 || failures % 20 === 0) this.logger.warn({ err: error, stream, failures }, 'following a stream failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** Math.min(failures, 4), 4_000)));
      }
    }
  }

  /** Throws when the stream holds changes past `applied` that the consumer has not delivered (the caller starts it again). */
  async #checkNotStalled(stream: string, applied: number): Promise<void> {
    this.#jsm ??= this.#js.jetstreamManager(false);
    const last = (await (await this.#jsm).streams.info(stream)).state.last_seq;
    if (last > applied) throw new Error(`the consumer of ${stream} stopped delivering: applied up to ${applied}, the stream ends at ${last}`);
  }

  async #apply(ref: StreamRef, stream: string, messages: readonly JsMsg[]): Promise<void> {
    const changes: Change[] = [];
    for (const message of messages) {
      let change: Change;
      try {
        change = decodeChange(message.data);
      } catch (error) {
        this.logger.error({ err: error, stream, seq: message.seq }, 'a message that is not a Tessera change: skipped');
        continue;
      }
      if (change.epoch !== undefined && !(await this.accept(change, stream, message.seq))) {
        this.logger.warn({ stream, seq: message.seq, session: change.sessionId, epoch: change.epoch }, 'an auth change of an epoch that had ended: ignored');
        continue;
      }
      changes.push(change);
    }
    const reports = await this.store.merge(
      changes.flatMap((change) => change.records),
      Date.now(),
    );
    for (const change of changes) this.clock.observe(change.hlc);
    const last = messages.at(-1)!;
    const outcomes: Record<string, number> = {};
    for (const report of reports) {
      const outcome = report.outcome === 'merged' && report.changed.length === 0 ? 'unchanged' : report.outcome;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    this.observer.applied(ref.origin, stream, { changes: changes.length, outcomes });
    this.observer.lag(ref.origin, stream, Math.max(0, (Date.now() - last.info.timestampNanos / 1e6) / 1000), last.info.pending);
  }
}

/**
 * The change feed of the Redis engines (`../feed.ts`): one stream on a single
 * server; on a cluster one stream per slot, each written by the scripts of
 * its slot's sessions. Positions are stream ids. Each consumer's acknowledged
 * positions are one hash of its own (field: shard), so a reader learns all of
 * them in one command; trimming a stream to what every consumer has passed is
 * a separate step (it only ever trims less than it could, never more).
 *
 * Finding the slots with something to read on a cluster: the scripts ring the
 * slot's bell (a shard channel) when they write its stream, and a reader
 * listens to every bell. Bells are not durable — a subscription lost to a
 * failover misses some — so every slot is also looked at every `sweepMs`,
 * and all of them at a reader's first read (after a restart).
 */
import { comparePositions, furthestPositions, type ChangeFeed, type FeedEntry } from '../feed.js';
import { decodeFeedChange } from './codec.js';
import type { RedisConnection } from './connection.js';
import type { KeyLayout } from './keys.js';
import { SLOTS } from './slots.js';

/** How often a waiting read looks again on one server. */
const POLL_MS = 25;
/** Entries counted per shard by `backlog`: beyond it the count is a floor. */
const BACKLOG_COUNTED = 1000;
/** Commands in flight at once when every slot is looked at (a cluster's 16 384). */
const CONCURRENCY = 256;

export interface RedisFeedOptions {
  readonly cluster: boolean;
  readonly consumers: readonly string[];
  /** Cluster: every slot is looked at this often, whatever the bells said. @default 30000 */
  readonly sweepMs?: number;
}

/** `work` for every item, at most `limit` at a time. */
async function eachLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The position just after `position` (XTRIM MINID keeps ids at or above it). */
function successor(position: string): string {
  const [ms = '0', seq = '0'] = position.split('-');
  return `${ms}-${Number(seq) + 1}`;
}

export class RedisFeed implements ChangeFeed {
  readonly #connection: RedisConnection;
  readonly #keys: KeyLayout;
  readonly #options: RedisFeedOptions;
  readonly #shards: readonly string[];
  /** Acknowledged positions by consumer and shard, as read once from Redis and moved by this process. */
  readonly #positions = new Map<string, Promise<Map<string, string>>>();
  /** Cluster: shards that may hold unread entries, per consumer. */
  readonly #dirty = new Map<string, Set<string>>();
  readonly #lastSweep = new Map<string, number>();
  #listening: Promise<void> | null = null;
  #bellsHeard = false;

  constructor(connection: RedisConnection, keys: KeyLayout, options: RedisFeedOptions) {
    this.#connection = connection;
    this.#keys = keys;
    this.#options = options;
    this.#shards = options.cluster ? Array.from({ length: SLOTS }, (_, slot) => String(slot)) : [''];
  }

  /**
   * A script of this process wrote the shard's stream: its readers in this
   * process look there at their next read (bells reach other processes, and
   * this one a little later).
   */
  written(shard: string): void {
    for (const dirty of this.#dirty.values()) dirty.add(shard);
  }

  /** Cluster: gives every slot its (empty) stream, so that no session script meets a missing key while its slot migrates. */
  async prepare(): Promise<void> {
    if (!this.#options.cluster) return;
    await eachLimited(this.#shards, CONCURRENCY, (shard) => {
      const { stream } = this.#keys.feedShard(shard);
      return this.#connection.script('tesseraFeedPrepare', [stream], [], { idempotent: true });
    });
  }

  async read(consumer: string, limit: number, waitMs = 0): Promise<FeedEntry[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const entries = this.#options.cluster ? await this.#readCluster(consumer, limit) : await this.#readShard(consumer, '', limit);
      if (entries.length > 0 || Date.now() >= deadline) return entries;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
    }
  }

  async ack(consumer: string, entries: readonly FeedEntry[]): Promise<void> {
    const positions = await this.#positionsOf(consumer);
    const moved = [...furthestPositions(entries)].filter(([shard, position]) => comparePositions(position, positions.get(shard) ?? '0-0') > 0);
    if (moved.length === 0) return;
    const key = this.#keys.feedPositions(consumer);
    await this.#connection.command(key, ['HSET', key, ...moved.flatMap(([shard, position]) => [field(shard), position])], { idempotent: true });
    for (const [shard, position] of moved) positions.set(shard, position);
    await Promise.all(moved.map(([shard]) => this.#trim(shard)));
  }

  /** Counted up to `BACKLOG_COUNTED` entries per shard. */
  async backlog(consumer: string): Promise<number> {
    const positions = await this.#positionsOf(consumer);
    const counts = await eachLimited(this.#shards, CONCURRENCY, async (shard) => {
      const { stream } = this.#keys.feedShard(shard);
      const after = positions.get(shard) ?? '0-0';
      const reply = await this.#connection.command(stream, ['XRANGE', stream, `(${after}`, '+', 'COUNT', String(BACKLOG_COUNTED)], { idempotent: true });
      return (reply as unknown[]).length;
    });
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async lease(consumer: string, holder: string, ttlMs: number): Promise<boolean> {
    const key = this.#keys.feedLease(consumer);
    // Retrying after a lost reply is harmless: the holder renews its own lease.
    return (await this.#connection.script('tesseraFeedLease', [key], [holder, String(ttlMs)], { idempotent: true })) === 1;
  }

  /** Trims a shard's stream to what every configured consumer has acknowledged. */
  async #trim(shard: string): Promise<void> {
    let least: string | undefined;
    for (const consumer of this.#options.consumers) {
      const key = this.#keys.feedPositions(consumer);
      // Fresh from Redis: other processes acknowledge for their consumers.
      const position = await this.#connection.command(key, ['HGET', key, field(shard)], { idempotent: true });
      if (typeof position !== 'string') return;
      if (least === undefined || comparePositions(position, least) < 0) least = position;
    }
    if (least === undefined) return;
    const { stream } = this.#keys.feedShard(shard);
    await this.#connection.command(stream, ['XTRIM', stream, 'MINID', successor(least)], { idempotent: true });
  }

  #positionsOf(consumer: string): Promise<Map<string, string>> {
    let positions = this.#positions.get(consumer);
    if (positions === undefined) {
      const key = this.#keys.feedPositions(consumer);
      positions = this.#connection.command(key, ['HGETALL', key], { idempotent: true }).then((reply) => {
        const map = new Map<string, string>();
        const flat = Array.isArray(reply) ? (reply as string[]) : Object.entries(reply as Record<string, string>).flat();
        for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] === '-' ? '' : flat[i]!, flat[i + 1]!);
        return map;
      });
      positions.catch(() => this.#positions.delete(consumer));
      this.#positions.set(consumer, positions);
    }
    return positions;
  }

  /** Entries after the consumer's position in one shard. */
  async #readShard(consumer: string, shard: string, limit: number): Promise<FeedEntry[]> {
    const { stream } = this.#keys.feedShard(shard);
    const after = (await this.#positionsOf(consumer)).get(shard) ?? '0-0';
    const reply = await this.#connection.command(stream, ['XRANGE', stream, `(${after}`, '+', 'COUNT', String(limit)], { idempotent: true });
    return (reply as [string, string[]][])
      .filter(([, fields]) => fields[1] !== '')
      .map(([position, fields]) => ({ shard, position, change: decodeFeedChange(fields[1]!) }));
  }

  async #readCluster(consumer: string, limit: number): Promise<FeedEntry[]> {
    this.#listen();
    let dirty = this.#dirty.get(consumer);
    // Until the bells are heard, every slot is looked at again, once a second at most.
    const sweepMs = this.#bellsHeard ? (this.#options.sweepMs ?? 30_000) : 1_000;
    if (dirty === undefined || Date.now() - (this.#lastSweep.get(consumer) ?? 0) >= sweepMs) {
      this.#lastSweep.set(consumer, Date.now());
      dirty = new Set(this.#shards);
      this.#dirty.set(consumer, dirty);
    }
    while (dirty.size > 0) {
      const round = [...dirty].slice(0, CONCURRENCY * 4);
      // Clean before reading: a bell that rings during the read marks the shard again.
      for (const shard of round) dirty.delete(shard);
      const batches = await eachLimited(round, CONCURRENCY, (shard) => this.#readShard(consumer, shard, limit));
      const found: FeedEntry[] = [];
      round.forEach((shard, i) => {
        // A shard with entries stays to be read until they are acknowledged.
        if (batches[i]!.length > 0) dirty.add(shard);
        found.push(...batches[i]!);
      });
      if (found.length > 0) return found.slice(0, Math.max(limit, 1));
    }
    return [];
  }

  /** Cluster: marks a slot dirty for every consumer when its bell rings. */
  #listen(): void {
    if (this.#listening !== null) return;
    const bells = new Map(this.#shards.map((shard) => [this.#keys.feedShard(shard).bell!, shard]));
    this.#listening = this.#connection
      .listen([...bells.keys()], (channel) => {
        const shard = bells.get(channel);
        if (shard !== undefined) for (const dirty of this.#dirty.values()) dirty.add(shard);
      })
      .then(
        () => {
          this.#bellsHeard = true;
          // Bells rung while subscribing were not heard: look at every slot once more.
          for (const dirty of this.#dirty.values()) for (const shard of this.#shards) dirty.add(shard);
        },
        () => {
          // Not subscribed: sweeps find every entry, only later; try again at the next read.
          this.#listening = null;
        },
      );
  }
}

/** A shard's field in a positions hash ('-' for the one shard of a single server). */
function field(shard: string): string {
  return shard === '' ? '-' : shard;
}

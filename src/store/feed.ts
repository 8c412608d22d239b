/**
 * The change feed: every change an engine commits, appended in the same
 * atomic step as the change itself (a row in the same SQLite transaction, a
 * stream entry written by the same Redis script), so that a crash between the
 * commit and its delivery loses nothing. Replication ships it to the other
 * regions; session events are delivered from it.
 *
 * The feed is split into shards (one for SQLite and standalone Redis, one per
 * cluster slot for Redis Cluster); positions grow within a shard. Each named
 * consumer reads from its own acknowledged position; an entry is trimmed once
 * every configured consumer (`StoreSettings.feedConsumers`) has acknowledged it.
 * Changes joined in from another region are never appended (no echo).
 */
import type { Change } from '../domain/parts.js';

export interface FeedEntry {
  /** The shard the entry is in ('' where there is one). */
  readonly shard: string;
  /** Its position in the shard: positions only grow (compare with `comparePositions`). */
  readonly position: string;
  readonly change: Change;
}

export interface ChangeFeed {
  /**
   * Entries after the consumer's acknowledged positions, oldest first within a
   * shard, at most `limit`; waits up to `waitMs` for one when there is none.
   * Reading again without acknowledging returns the same entries.
   */
  read(consumer: string, limit: number, waitMs?: number): Promise<FeedEntry[]>;
  /** Moves the consumer past these entries (and every earlier one of their shards); trims what every consumer has passed. */
  ack(consumer: string, entries: readonly FeedEntry[]): Promise<void>;
  /** How many entries the consumer has not acknowledged (all shards; an estimate where counting is costly). */
  backlog(consumer: string): Promise<number>;
  /**
   * Takes or renews the consumer's lease for `holder` (a node), for `ttlMs`:
   * true while this holder has it. Nodes that share a store read a consumer
   * such as `events` one at a time, so that each entry is delivered once in
   * the normal case; when a holder stops renewing, another takes over after
   * the lease lapses (and may deliver again what was not acknowledged).
   * `ttlMs` 0 gives up the holder's lease at once (a node that stops).
   */
  lease(consumer: string, holder: string, ttlMs: number): Promise<boolean>;
}

/** Orders positions of one shard: integers (SQLite) or Redis stream ids (`<ms>-<seq>`). */
export function comparePositions(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** The furthest position of each shard among the entries. */
export function furthestPositions(entries: readonly FeedEntry[]): Map<string, string> {
  const furthest = new Map<string, string>();
  for (const { shard, position } of entries) {
    const known = furthest.get(shard);
    if (known === undefined || comparePositions(position, known) > 0) furthest.set(shard, position);
  }
  return furthest;
}

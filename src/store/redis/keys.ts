/**
 * Key layout of the Redis engines.
 *
 * A session is four small hashes, a sorted set and a list that share the
 * hash tag `{sessionId}`, so they live in one cluster slot and one Lua script
 * reads or changes them atomically:
 *
 *   <prefix>{<sessionId>}:m   metadata and the version of every part
 *   <prefix>{<sessionId>}:d   devices, one field per device
 *   <prefix>{<sessionId>}:c   cart, one field per SKU
 *   <prefix>{<sessionId>}:p   preferences, one field per top-level key
 *   <prefix>{<sessionId>}:h   history, one member per product scored by its
 *                             view time (a hash before D93: `lua/common.lua.ts`)
 *   <prefix>{<sessionId>}:q   records parked until the session's metadata arrives
 *
 * The change feed is one stream, `<prefix>feed`, on a single server; on a
 * cluster one stream per slot, `<prefix>feed:{<tag>}` with a tag of that slot
 * (`slots.ts`), rung on the shard channel `<prefix>bell:{<tag>}` when written.
 * Each consumer's positions are the hash `<prefix>feedpos:{<consumer>}`, and
 * the node reading it now holds `<prefix>feedlease:{<consumer>}`.
 *
 * The user index `<prefix>u:{<userId>}` (a string: the indexed session's
 * creation time and id, `<createdAt>:<sessionId>`) lives in the user's own
 * slot; it carries the same deadline as the keys of the session it names.
 * Beside it, `<prefix>us:{<userId>}` (a hash of session ids; a set where an
 * earlier release made it: `lua/index.lua.ts`) names every session ever
 * indexed or claimed for the user, ended ones included, until the last of
 * them may be forgotten: what a privacy export or erasure must find.
 */
import { keySlot, slotTag } from './slots.js';

/** The keys of one session, in the order every session script takes them (feed keys last, when written). */
export type SessionKeys = readonly string[];

export interface FeedShardKeys {
  readonly stream: string;
  /** Cluster only: the shard channel rung when the stream is written (`bell:` for `feed:`, same tag). */
  readonly bell?: string;
}

export interface KeyLayout {
  /** The session's five keys (metadata, devices, cart, preferences, history), then its feed shard's stream (with `feed`) and its parked records (with `parked`). */
  session(sessionId: string, extra?: { readonly feed?: boolean; readonly parked?: boolean }): SessionKeys;
  user(userId: string): string;
  /** Every session of the user (same slot as `user`). */
  userSessions(userId: string): string;
  /** The feed shard a session's changes go to: '' on one server, the slot on a cluster. */
  shardOf(sessionId: string): string;
  feedShard(shard: string): FeedShardKeys;
  /** A feed consumer's acknowledged positions, by shard. */
  feedPositions(consumer: string): string;
  /** The pattern of every session's metadata key (for SCAN), and the session id in one such key. */
  readonly metaPattern: string;
  sessionOfMetaKey(key: string): string;
  /** Replication's marks (one hash) and a lease's key. */
  readonly marks: string;
  lease(name: string): string;
  /** The node that reads a feed consumer now (`ChangeFeed.lease`). */
  feedLease(consumer: string): string;
}

export function keyLayout(prefix: string, cluster: boolean): KeyLayout {
  const layout: KeyLayout = {
    session(sessionId, extra = {}) {
      const base = `${prefix}{${sessionId}}:`;
      const keys = [`${base}m`, `${base}d`, `${base}c`, `${base}p`, `${base}h`];
      if (extra.feed === true) keys.push(layout.feedShard(layout.shardOf(sessionId)).stream);
      if (extra.parked === true) keys.push(`${base}q`);
      return keys;
    },
    user(userId) {
      return `${prefix}u:{${userId}}`;
    },
    userSessions(userId) {
      return `${prefix}us:{${userId}}`;
    },
    shardOf(sessionId) {
      return cluster ? String(keySlot(sessionId)) : '';
    },
    feedShard(shard) {
      if (!cluster) return { stream: `${prefix}feed` };
      const tag = slotTag(Number(shard));
      return { stream: `${prefix}feed:{${tag}}`, bell: `${prefix}bell:{${tag}}` };
    },
    feedPositions(consumer) {
      return `${prefix}feedpos:{${consumer}}`;
    },
    metaPattern: `${prefix}{*}:m`,
    sessionOfMetaKey(key) {
      return key.slice(prefix.length + 1, -3);
    },
    marks: `${prefix}marks`,
    lease(name) {
      return `${prefix}lease:{${name}}`;
    },
    feedLease(consumer) {
      return `${prefix}feedlease:{${consumer}}`;
    },
  };
  return layout;
}

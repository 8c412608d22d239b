/**
 * The Lua scripts as node-redis script commands: each is sent by SHA
 * (EVALSHA) and, on NOSCRIPT — a node that restarted, a replica promoted —
 * once in full (EVAL), which loads it on that node. Session scripts take the
 * keys of one session (`keys.ts`: five of its own, then as needed its feed
 * stream and parked records), index scripts the user's index key, the feed
 * script a shard's stream.
 */
import { defineScript, type CommandParser } from 'redis';
import type { ReplyUnion } from '@redis/client/dist/lib/RESP/types.js';
import { CART_LUA } from './lua/cart.lua.js';
import { COMMON_LUA } from './lua/common.lua.js';
import { DEVICES_LUA, TOKEN_MATCH_LUA } from './lua/devices.lua.js';
import { FEED_LEASE_LUA, FEED_LUA, FEED_PREPARE_LUA } from './lua/feed.lua.js';
import { HISTORY_LUA } from './lua/history.lua.js';
import { HLC_LUA } from './lua/hlc.lua.js';
import { INDEX_DROP_LUA, INDEX_REFRESH_LUA, INDEX_REGISTER_LUA, INDEX_SWAP_LUA } from './lua/index.lua.js';
import { JOINS_LUA } from './lua/joins.lua.js';
import { LEASE_LUA, RELEASE_LUA } from './lua/lease.lua.js';
import { MERGE_PATCH_LUA } from './lua/merge-patch.lua.js';
import { ACTIVITY_LUA, OPERATIONS_LUA } from './lua/operations.lua.js';
import { PREFS_LUA } from './lua/prefs.lua.js';
import {
  CREATE_LUA,
  ERASE_LUA,
  LOAD_LUA,
  MARK_MERGED_LUA,
  MERGE_LUA,
  MIGRATE_LUA,
  SNAPSHOT_LUA,
  TOUCH_LUA,
  WIPE_MERGED_LUA,
} from './lua/scripts.lua.js';
import { SESSION_LUA } from './lua/session.lua.js';
import { VERSIONS_LUA } from './lua/versions.lua.js';

function script(source: string) {
  return defineScript({
    SCRIPT: source,
    parseCommand(parser: CommandParser, keys: readonly string[], args: readonly string[]) {
      // No fixed NUMBER_OF_KEYS: session scripts take the feed's keys only when the feed is on.
      parser.push(String(keys.length));
      // The first key routes the command to the slot's node in a cluster.
      for (const key of keys) parser.pushKey(key);
      parser.push(...args);
    },
    // Replies are nested arrays of strings and integers, read by `replies.ts`.
    transformReply: undefined as unknown as () => ReplyUnion,
  });
}

/** What every session script is built on: the helpers, then each part's rules, then the joins and the feed. */
export const LIBRARY = [
  COMMON_LUA, HLC_LUA, SESSION_LUA, VERSIONS_LUA, DEVICES_LUA, TOKEN_MATCH_LUA, CART_LUA, PREFS_LUA, MERGE_PATCH_LUA,
  HISTORY_LUA, JOINS_LUA, FEED_LUA, ACTIVITY_LUA,
].join('\n');

export const SCRIPTS = {
  // The hot path: only what a read needs (every local function of a script is a closure made on each call).
  tesseraLoad: script([COMMON_LUA, TOKEN_MATCH_LUA, LOAD_LUA].join('\n')),
  tesseraMigrate: script(LIBRARY + MIGRATE_LUA),
  tesseraCreate: script(LIBRARY + CREATE_LUA),
  tesseraApply: script(LIBRARY + OPERATIONS_LUA),
  tesseraTouch: script(LIBRARY + TOUCH_LUA),
  tesseraMerge: script(LIBRARY + MERGE_LUA),
  tesseraSnapshot: script(LIBRARY + SNAPSHOT_LUA),
  tesseraMarkMerged: script(LIBRARY + MARK_MERGED_LUA),
  tesseraWipeMerged: script(LIBRARY + WIPE_MERGED_LUA),
  tesseraErase: script(LIBRARY + ERASE_LUA),
  tesseraIndexSwap: script(INDEX_SWAP_LUA),
  tesseraIndexRefresh: script(INDEX_REFRESH_LUA),
  tesseraIndexDrop: script(INDEX_DROP_LUA),
  tesseraIndexRegister: script(INDEX_REGISTER_LUA),
  tesseraFeedPrepare: script(FEED_PREPARE_LUA),
  tesseraLease: script(LEASE_LUA),
  tesseraRelease: script(RELEASE_LUA),
  tesseraFeedLease: script(FEED_LEASE_LUA),
};

export type ScriptName = keyof typeof SCRIPTS;

/**
 * The Lua scripts as node-redis script commands: each is sent by SHA
 * (EVALSHA) and, on NOSCRIPT — a node that restarted, a replica promoted —
 * once in full (EVAL), which loads it on that node. Session scripts take the
 * five keys of one session (`keys.ts`), index scripts the user's index key.
 */
import { defineScript, type CommandParser } from 'redis';
import type { ReplyUnion } from '@redis/client/dist/lib/RESP/types.js';
import { APPLY_LUA } from './lua/apply.lua.js';
import { COMMON_LUA } from './lua/common.lua.js';
import { MERGE_PATCH_LUA } from './lua/merge-patch.lua.js';
import { PARTS_LUA } from './lua/parts.lua.js';
import {
  CREATE_LUA,
  INDEX_DROP_LUA,
  INDEX_REFRESH_LUA,
  INDEX_REPLACE_LUA,
  LOAD_LUA,
  MERGE_LUA,
  TOUCH_LUA,
} from './lua/session.lua.js';

function script(source: string, numberOfKeys: number) {
  return defineScript({
    SCRIPT: source,
    NUMBER_OF_KEYS: numberOfKeys,
    parseCommand(parser: CommandParser, keys: readonly string[], args: readonly string[]) {
      // The first key routes the command to the slot's node in a cluster.
      for (const key of keys) parser.pushKey(key);
      parser.push(...args);
    },
    // Replies are nested arrays of strings and integers, read by `codec.ts`.
    transformReply: undefined as unknown as () => ReplyUnion,
  });
}

export const SCRIPTS = {
  tesseraLoad: script(COMMON_LUA + LOAD_LUA, 5),
  tesseraCreate: script(COMMON_LUA + CREATE_LUA, 5),
  tesseraApply: script(COMMON_LUA + PARTS_LUA + MERGE_PATCH_LUA + APPLY_LUA, 5),
  tesseraTouch: script(COMMON_LUA + PARTS_LUA + TOUCH_LUA, 5),
  tesseraMerge: script(COMMON_LUA + PARTS_LUA + MERGE_LUA, 5),
  tesseraIndexReplace: script(INDEX_REPLACE_LUA, 1),
  tesseraIndexRefresh: script(INDEX_REFRESH_LUA, 1),
  tesseraIndexDrop: script(INDEX_DROP_LUA, 1),
};

export type ScriptName = keyof typeof SCRIPTS;

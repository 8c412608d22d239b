/**
 * The Lua scripts as one Redis function library (Redis 7.0+), each script a
 * function called by name with FCALL. A library's helpers and tables are made
 * once, when it is loaded, where an EVAL script makes them again on every call
 * (13 µs of a cart write's 56 µs inside Redis, docs/PERFORMANCE.md).
 *
 * The library's name and its functions' names carry a digest of its code, as
 * EVALSHA names a script by its SHA: two releases side by side (a rolling
 * upgrade) each call their own code, and neither replaces the other's. A node
 * that lacks the library — restarted, flushed, added to a cluster — answers
 * "Function not found"; the call loads it there and is sent again
 * (`callFunction`). A replica gets it from its master, and keeps it when promoted.
 *
 * Session scripts take the keys of one session (`keys.ts`: five of its own,
 * then as needed its feed stream and parked records), index scripts the user's
 * index key, the feed script a shard's stream.
 */
import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';
import { CART_LUA } from './lua/cart.lua.js';
import { COMMON_LUA } from './lua/common.lua.js';
import { DEVICES_LUA, TOKEN_MATCH_LUA } from './lua/devices.lua.js';
import { FEED_LEASE_LUA, FEED_LUA, FEED_PREPARE_LUA } from './lua/feed.lua.js';
import { HISTORY_LUA } from './lua/history.lua.js';
import { HLC_LUA } from './lua/hlc.lua.js';
import { INDEX_DROP_LUA, INDEX_REFRESH_LUA, INDEX_REGISTER_LUA, INDEX_SWAP_LUA, USER_SESSIONS_LUA } from './lua/index.lua.js';
import { JOINS_LUA } from './lua/joins.lua.js';
import { LEASE_LUA, RELEASE_LUA } from './lua/lease.lua.js';
import { MERGE_PATCH_LUA } from './lua/merge-patch.lua.js';
import { ACTIVITY_LUA, APPLY_LUA, OPERATIONS_LUA } from './lua/operations.lua.js';
import { PREFS_LUA } from './lua/prefs.lua.js';
import {
  CREATE_LUA,
  DIGEST_LUA,
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
import type { RedisTuning } from './options.js';

/** The stored forms a node's writes keep (decisions D93 and D94; docs/redis.md, "Upgrading"). */
export type StoredForms = Pick<RedisTuning, 'historyForm' | 'userSessionsForm'>;

/** The forms this release writes by default. */
export const CURRENT_FORMS: StoredForms = Object.freeze({ historyForm: 'zset', userSessionsForm: 'hash' });

/**
 * What every script is built on: the helpers, each part's rules, the joins, the feed, activity
 * and the operations (apply), after the two constants that differ by the forms writes keep: a
 * session's history (`common.lua.ts`, D93) and a user's sessions (`index.lua.ts`, D94).
 */
export function libraryCode({ historyForm, userSessionsForm }: StoredForms): string {
  return [
    `local HISTORY_FORM = '${historyForm}'`,
    `local USER_SESSIONS_FORM = '${userSessionsForm}'`,
    COMMON_LUA, HLC_LUA, SESSION_LUA, VERSIONS_LUA, DEVICES_LUA, TOKEN_MATCH_LUA, CART_LUA, PREFS_LUA, MERGE_PATCH_LUA,
    HISTORY_LUA, JOINS_LUA, FEED_LUA, ACTIVITY_LUA, OPERATIONS_LUA,
  ].join('\n');
}

/** The helpers as this release writes by default. */
export const LIBRARY = libraryCode(CURRENT_FORMS);

/** A script's Lua, run as the body of a function that begins with `beginCall` (`common.lua.ts`). */
export interface FunctionDefinition {
  readonly body: string;
  /** The script never writes: it may run while Redis is over its memory limit. */
  readonly readOnly?: boolean;
}

export interface FunctionLibrary {
  readonly name: string;
  /** The code of FUNCTION LOAD. */
  readonly code: string;
  /** The name a definition is called by. */
  readonly functions: Readonly<Record<string, string>>;
}

/** A library of `definitions` after the Lua `helpers`, named `prefix` and the code's digest. */
export function functionLibrary(prefix: string, helpers: string, definitions: Readonly<Record<string, FunctionDefinition>>): FunctionLibrary {
  const digest = createHash('sha1').update(helpers).update(JSON.stringify(definitions)).digest('hex').slice(0, 16);
  const functions: Record<string, string> = {};
  const registrations = Object.entries(definitions).map(([name, { body, readOnly }]) => {
    functions[name] = `${name}_${digest}`;
    const flags = readOnly === true ? `{ 'no-writes' }` : '{}';
    return `redis.register_function{ function_name = '${functions[name]}', flags = ${flags}, callback = function(keys, args)
beginCall(keys, args)
${body}
end }`;
  });
  const name = `${prefix}_${digest}`;
  return { name, code: [`#!lua name=${name}`, helpers, ...registrations].join('\n'), functions };
}

const DEFINITIONS = {
  // The hot path: a read.
  tesseraLoad: { body: LOAD_LUA, readOnly: true },
  tesseraMigrate: { body: MIGRATE_LUA },
  tesseraCreate: { body: CREATE_LUA },
  tesseraApply: { body: APPLY_LUA },
  tesseraTouch: { body: TOUCH_LUA },
  tesseraMerge: { body: MERGE_LUA },
  tesseraSnapshot: { body: SNAPSHOT_LUA, readOnly: true },
  tesseraDigest: { body: DIGEST_LUA, readOnly: true },
  tesseraMarkMerged: { body: MARK_MERGED_LUA },
  tesseraWipeMerged: { body: WIPE_MERGED_LUA },
  tesseraErase: { body: ERASE_LUA },
  tesseraIndexSwap: { body: INDEX_SWAP_LUA },
  tesseraIndexRefresh: { body: INDEX_REFRESH_LUA },
  tesseraIndexDrop: { body: INDEX_DROP_LUA },
  tesseraIndexRegister: { body: INDEX_REGISTER_LUA },
  tesseraUserSessions: { body: USER_SESSIONS_LUA, readOnly: true },
  tesseraFeedPrepare: { body: FEED_PREPARE_LUA },
  tesseraLease: { body: LEASE_LUA },
  tesseraRelease: { body: RELEASE_LUA },
  tesseraFeedLease: { body: FEED_LEASE_LUA },
} satisfies Record<string, FunctionDefinition>;

export type ScriptName = keyof typeof DEFINITIONS;

export const TESSERA_FUNCTIONS = functionLibrary('tessera', LIBRARY, DEFINITIONS);

/**
 * The library of the scripts that write `forms`: other forms are other libraries, each named by
 * its own digest, so nodes that write different forms side by side each call their own.
 */
export function tesseraFunctions(forms: StoredForms): FunctionLibrary {
  if (forms.historyForm === CURRENT_FORMS.historyForm && forms.userSessionsForm === CURRENT_FORMS.userSessionsForm) return TESSERA_FUNCTIONS;
  return functionLibrary('tessera', libraryCode(forms), DEFINITIONS);
}

const NOT_LOADED = /^ERR Function not found/;
const ALREADY_LOADED = /^ERR Library '[^']*' already exists/;

/**
 * Calls a function of `library` (`call` sends FCALL of the name it is given to
 * the node that owns the keys); where that node lacks the library, `load` sends
 * it FUNCTION LOAD, and the call is sent again. Another client loading it at the
 * same moment is no failure.
 */
export function callFunction(
  library: FunctionLibrary,
  name: string,
  call: (functionName: string) => Promise<unknown>,
  load: (code: string) => Promise<unknown>,
): Promise<unknown> {
  const functionName = library.functions[name];
  if (functionName === undefined) throw new Error(`no function ${name} in library ${library.name}`);
  return call(functionName).catch(async (error: unknown) => {
    if (!(error instanceof ErrorReply && NOT_LOADED.test(error.message))) throw error;
    await load(library.code).catch((loadError: unknown) => {
      if (!(loadError instanceof ErrorReply && ALREADY_LOADED.test(loadError.message))) throw loadError;
    });
    return call(functionName);
  });
}

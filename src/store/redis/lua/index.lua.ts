/**
 * The user index: one key per user, in the user's own slot, holding
 * `<createdAt>:<sessionId>` of the user's session (a bare session id in
 * releases before creation times were kept, read as created at 0). Each
 * script checks what the key holds before it changes it: the session's
 * scripts run in another slot, so these are compare-and-set steps.
 *
 * Beside it, in the same slot, every session claimed for the user (KEYS[2]):
 * it outlives each of them — its deadline only moves up, to the latest
 * deadline of their keys — so that a privacy request finds ended and expired
 * sessions too. Since D94 it is a hash (field = session id, value empty),
 * which Redis 7.0 keeps as a listpack where a set of the same ids is a hash
 * table; until D94 a set. Both are read; a registration keeps the form
 * USER_SESSIONS_FORM names ('hash' or 'set', at the top of the library, from
 * TESSERA_REDIS_USER_SESSIONS_FORM), with 'hash' turning a set into a hash.
 */
const INDEXED = String.raw`
local function indexed(value)
  if not value then return nil end
  return string.match(value, '^%d+:(.+)$') or value
end

-- Moves a key's deadline up to at least this one (a key without one gets it).
local function extendTo(key, deadline)
  local at = redis.call('PEXPIRETIME', key)
  if at == -2 then return end
  if at == -1 or at < tonumber(deadline) then redis.call('PEXPIREAT', key, deadline) end
end

-- The user's sessions as a hash, its members and deadline kept, where an earlier release made a set.
local function sessionsToHash()
  local members = redis.call('SMEMBERS', KEYS[2])
  local at = redis.call('PEXPIRETIME', KEYS[2])
  local args = {}
  for i = 1, #members do
    args[#args + 1] = members[i]
    args[#args + 1] = ''
  end
  redis.call('DEL', KEYS[2])
  callInChunks('HSET', KEYS[2], args)
  if at > 0 then redis.call('PEXPIREAT', KEYS[2], at) end
end

local function register(sessionId, deadline)
  local form = redis.call('TYPE', KEYS[2]).ok
  if form == 'none' then form = USER_SESSIONS_FORM end
  if form == 'set' and USER_SESSIONS_FORM == 'hash' then
    sessionsToHash()
    form = 'hash'
  end
  if form == 'set' then redis.call('SADD', KEYS[2], sessionId) else redis.call('HSET', KEYS[2], sessionId, '') end
  extendTo(KEYS[2], deadline)
end
`;

/**
 * KEYS: index, sessions. ARGV: the value expected ('' for none), the new value,
 * deadline, session id. The session is registered as the user's whatever the
 * outcome (a loser of a race still holds the user's id). Reply: 1 when set.
 */
export const INDEX_SWAP_LUA = String.raw`${INDEXED}
register(ARGV[4], ARGV[3])
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`;

/** KEYS: index, sessions. ARGV: session id, deadline. Registers the session as the user's (the index untouched). */
export const INDEX_REGISTER_LUA = String.raw`${INDEXED}
register(ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS: index, sessions. ARGV: session id, deadline. Moves the deadline of the
 * user's sessions up, and the index's if it still names the session.
 */
export const INDEX_REFRESH_LUA = String.raw`${INDEXED}
extendTo(KEYS[2], ARGV[2])
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
`;

/**
 * KEYS: index, sessions. ARGV: session id, the deadline of its (ended) keys.
 * Deletes the index if it still names the session; the user's sessions live
 * on until the tombstone's deadline.
 */
export const INDEX_DROP_LUA = String.raw`${INDEXED}
extendTo(KEYS[2], ARGV[2])
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

/**
 * KEYS: index, sessions. Reply: the index's value (nil when none) and the
 * session ids of the user's sessions, in either form.
 */
export const USER_SESSIONS_LUA = String.raw`
local form = redis.call('TYPE', KEYS[2]).ok
local ids = {}
if form == 'hash' then ids = redis.call('HKEYS', KEYS[2]) elseif form == 'set' then ids = redis.call('SMEMBERS', KEYS[2]) end
return { redis.call('GET', KEYS[1]), ids }
`;

/**
 * The user index: one key per user, in the user's own slot, holding
 * `<createdAt>:<sessionId>` of the user's session (a bare session id in
 * releases before creation times were kept, read as created at 0). Each
 * script checks what the key holds before it changes it: the session's
 * scripts run in another slot, so these are compare-and-set steps.
 *
 * Beside it, in the same slot, the set of every session claimed for the user
 * (KEYS[2]): it outlives each of them — its deadline only moves up, to the
 * latest deadline of their keys — so that a privacy request finds ended and
 * expired sessions too.
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

local function register(sessionId, deadline)
  redis.call('SADD', KEYS[2], sessionId)
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
 * sessions set up, and the index's if it still names the session.
 */
export const INDEX_REFRESH_LUA = String.raw`${INDEXED}
extendTo(KEYS[2], ARGV[2])
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
`;

/**
 * KEYS: index, sessions. ARGV: session id, the deadline of its (ended) keys.
 * Deletes the index if it still names the session; the sessions set lives on
 * until the tombstone's deadline.
 */
export const INDEX_DROP_LUA = String.raw`${INDEXED}
extendTo(KEYS[2], ARGV[2])
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

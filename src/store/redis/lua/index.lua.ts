/**
 * The user index: one key per user, in the user's own slot, holding
 * `<createdAt>:<sessionId>` of the user's session (a bare session id in
 * releases before creation times were kept, read as created at 0). Each
 * script checks what the key holds before it changes it: the session's
 * scripts run in another slot, so these are compare-and-set steps.
 */
const INDEXED = String.raw`
local function indexed(value)
  if not value then return nil end
  return string.match(value, '^%d+:(.+)$') or value
end
`;

/** KEYS: index. ARGV: the value expected ('' for none), the new value, deadline. Reply: 1 when set. */
export const INDEX_SWAP_LUA = String.raw`
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`;

/** KEYS: index. ARGV: session id, deadline. Moves the index's deadline up, if it still names the session. */
export const INDEX_REFRESH_LUA = String.raw`${INDEXED}
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
`;

/** KEYS: index. ARGV: session id. Deletes the index if it still names the session. */
export const INDEX_DROP_LUA = String.raw`${INDEXED}
if indexed(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

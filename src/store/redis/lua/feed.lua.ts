/**
 * The change feed, written by the scripts that commit a change (`../../feed.ts`):
 * one stream entry per change, in the same script as the change, so that no
 * committed change is ever missing from it. On a cluster the shard channel is
 * rung as well, so that a reader learns of the slot at once.
 */
export const FEED_LUA = String.raw`
-- Appends a change — records as { part, flat field/value list } — to the feed
-- (a no-op when the script was given no feed key: no consumer is configured).
local function appendChange(sessionId, stamp, origin, records)
  if FEED == nil or #records == 0 then return end
  redis.call('XADD', FEED, '*', 'c', cjson.encode({ s = sessionId, h = stamp, o = origin, r = records }))
  if BELL ~= nil then redis.call('SPUBLISH', BELL, '1') end
end
`;

/**
 * Makes a shard's stream exist (empty) if it does not: a session script whose
 * feed stream is missing would get TRYAGAIN while its slot migrates. KEYS: stream.
 */
export const FEED_PREPARE_LUA = String.raw`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '0', '*', 'c', '')
return 1
`;

/**
 * A consumer's lease: taken when free or already the holder's; ttlMs 0 gives
 * the holder's up. KEYS: lease. ARGV: holder, ttlMs. Reply: 1 when held.
 */
export const FEED_LEASE_LUA = String.raw`
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

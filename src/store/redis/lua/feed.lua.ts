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

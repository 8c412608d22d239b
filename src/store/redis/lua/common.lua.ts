/**
 * Lua shared by every script: the call's keys and their roles, and small
 * helpers on strings, integers and hashes.
 *
 * Every session script is called with the keys of one session (`../keys.ts`):
 * metadata, devices, cart, preferences, history, then as the script needs
 * them the list of parked records and the feed stream of the session's slot.
 * They share the hash tag `{sessionId}` or a tag of the same slot, so the
 * script runs on the node that owns the session and sees it atomically. Keys
 * that may not exist (parked records) are passed only to the merge, which may
 * wait out a slot migration: a script whose keys are partly missing in a
 * migrating slot gets TRYAGAIN.
 *
 * The scripts are one function library (`../scripts.ts`). Its top level runs
 * once, at FUNCTION LOAD, where Redis 7.0 gives Lua no globals at all — not
 * `tonumber`, `string` or `cjson`: it may only define functions and tables of
 * constants. Everything else happens inside functions, at call time.
 */
export const COMMON_LUA = String.raw`
-- The call's keys and arguments. Every function of the library begins with
-- beginCall, which binds them and the key roles: metadata, devices, cart,
-- preferences, history, then, when a script needs them, the parked records
-- (':q') and the feed stream of the session's slot; on a cluster the stream's
-- bell is the channel of the same tag.
local KEYS, ARGV = {}, {}
local META, DEVICES, CART, PREFS, HISTORY, PARKED, FEED, BELL
local DATA_KEYS, PART_KEY = {}, {}

-- What a call leaves in the library's state (the metadata as read, versions
-- being moved) is reset before the next: each file that keeps such state says how.
local callResets = {}
local function eachCall(reset)
  callResets[#callResets + 1] = reset
end

local function beginCall(keys, args)
  KEYS, ARGV = keys, args
  META, DEVICES, CART, PREFS, HISTORY = keys[1], keys[2], keys[3], keys[4], keys[5]
  PARKED, FEED, BELL = nil, nil, nil
  for i = 6, #keys do
    if string.sub(keys[i], -2) == ':q' then PARKED = keys[i] else FEED = keys[i] end
  end
  if FEED ~= nil and string.find(FEED, '{', 1, true) then BELL = string.gsub(FEED, 'feed:{', 'bell:{', 1) end
  DATA_KEYS[1], DATA_KEYS[2], DATA_KEYS[3], DATA_KEYS[4] = DEVICES, CART, PREFS, HISTORY
  PART_KEY.devices, PART_KEY.cart, PART_KEY.prefs, PART_KEY.history = DEVICES, CART, PREFS, HISTORY
  for i = 1, #callResets do callResets[i]() end
end

local DATA_PARTS = { 'cart', 'prefs', 'history', 'devices' }

-- Every part hash holds this field from the session's creation, so that all five
-- keys always exist: a script over a slot in mid-migration whose keys are partly
-- missing gets TRYAGAIN until the whole slot has moved, and a session with no
-- cart yet would otherwise be unavailable that long. A lone 0xFF byte is never
-- valid UTF-8, so no SKU, preference key or product id can be this field.
local PLACEHOLDER = '\255'

-- Integers written without exponent (tostring would give 1.7e+12).
local function int(n)
  return string.format('%.0f', n)
end

-- Byte-wise string order, as JavaScript compares ASCII: Lua's < follows the
-- server's collation locale, which must not decide which write wins. Four bytes
-- at a time: stamps and ids share long prefixes.
local function bytesLess(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  for i = 1, n, 4 do
    local j = i + 3
    if j > n then j = n end
    local a1, a2, a3, a4 = string.byte(a, i, j)
    local b1, b2, b3, b4 = string.byte(b, i, j)
    if a1 ~= b1 then return a1 < b1 end
    if a2 ~= b2 then return a2 < b2 end
    if a3 ~= b3 then return a3 < b3 end
    if a4 ~= b4 then return a4 < b4 end
  end
  return #a < #b
end

-- The session id inside a key's hash tag.
local function sessionIdOf(key)
  return string.match(key, '{([^}]*)}')
end

local function toMap(flat)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

local function toFlat(map)
  local flat = {}
  for field, value in pairs(map) do
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat
end

-- Calls command on key with args (a flat list; pairs stay whole), at most 1000 at a time: Lua's
-- unpack stops at about 8,000 values. A no-op when args is empty.
local function callInChunks(command, key, args)
  for i = 1, #args, 1000 do redis.call(command, key, unpack(args, i, math.min(i + 999, #args))) end
end

-- The history's stored form (decision D93). Since D93 it is a sorted set: member = product id,
-- score = the view time in epoch milliseconds (what a hash field held before), the placeholder
-- scored +inf, so that the oldest view is the first member, found without reading the others.
-- Until D93 it was a hash like the other parts. Both forms are read, whatever HISTORY_FORM says;
-- HISTORY_FORM ('zset' or 'hash', set at the top of the library by TESSERA_REDIS_HISTORY_FORM)
-- is the form a write keeps: a new history is made in it, and with 'zset' a write turns a hash
-- into a sorted set. The form is asked of Redis once per call (TYPE).
local historyType
eachCall(function() historyType = nil end)

local function historyTypeNow()
  if historyType == nil then
    historyType = redis.call('TYPE', HISTORY).ok
    if historyType == 'none' then historyType = HISTORY_FORM end
  end
  return historyType
end

-- Writes may follow: a hash history becomes a sorted set when HISTORY_FORM says so, with its
-- entries' texts (the score of an integer prints as the integer) and its deadline unchanged.
-- (Every write that converts also settles the written keys' deadlines, settleExpiry; the
-- conversion keeps the deadline all the same, so that it alone never leaves a key without one.)
local function historySorted()
  if historyTypeNow() == 'hash' and HISTORY_FORM == 'zset' then
    local flat = redis.call('HGETALL', HISTORY)
    local deadline = redis.call('PEXPIRETIME', HISTORY)
    redis.call('DEL', HISTORY)
    local args = {}
    for i = 1, #flat, 2 do
      args[#args + 1] = flat[i] == PLACEHOLDER and '+inf' or flat[i + 1]
      args[#args + 1] = flat[i]
    end
    callInChunks('ZADD', HISTORY, args)
    if deadline > 0 then redis.call('PEXPIREAT', HISTORY, deadline) end
    historyType = 'zset'
  end
  return historyType == 'zset'
end

-- Every entry of a part (field, value, field, value…) without the placeholder. Reads only:
-- read-only scripts call it too.
local function partFields(key)
  local flat
  if key == HISTORY and historyTypeNow() == 'zset' then
    -- The placeholder, scored +inf, comes last.
    flat = redis.call('ZRANGE', HISTORY, 0, -1, 'WITHSCORES')
  else
    flat = redis.call('HGETALL', key)
  end
  for i = 1, #flat, 2 do
    if flat[i] == PLACEHOLDER then
      table.remove(flat, i)
      table.remove(flat, i)
      break
    end
  end
  return flat
end

-- A part's stored text of one entry, or nil.
local function partEntry(part, field)
  if part == 'history' and historySorted() then return redis.call('ZSCORE', HISTORY, field) or nil end
  return redis.call('HGET', PART_KEY[part], field) or nil
end

-- Writes a part's stored text of one entry.
local function setPartEntry(part, field, text)
  if part == 'history' and historySorted() then
    redis.call('ZADD', HISTORY, text, field)
  else
    redis.call('HSET', PART_KEY[part], field, text)
  end
end

local function ensurePartKeys()
  redis.call('HSETNX', CART, PLACEHOLDER, '')
  redis.call('HSETNX', PREFS, PLACEHOLDER, '')
  if historySorted() then redis.call('ZADD', HISTORY, 'NX', '+inf', PLACEHOLDER) else redis.call('HSETNX', HISTORY, PLACEHOLDER, '') end
end

-- HSET of a field/value map, in one call (a no-op when the map is empty).
local function hsetMap(key, map)
  local args = toFlat(map)
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
`;

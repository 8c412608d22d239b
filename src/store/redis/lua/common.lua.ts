/**
 * Lua shared by every session script: the key roles, hash helpers, session
 * metadata (liveness, sliding, versions) and key expiry.
 *
 * Every session script is called with the five keys of one session, in this
 * order; they share the hash tag `{sessionId}`, so the script runs on the node
 * that owns the session and sees it atomically.
 */
export const COMMON_LUA = String.raw`
local META, DEVICES, CART, PREFS, HISTORY = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local DATA_KEYS = { DEVICES, CART, PREFS, HISTORY }
local PART_KEY = { devices = DEVICES, cart = CART, prefs = PREFS, history = HISTORY }
local VERSION_FIELD = { cart = 'vc', prefs = 'vp', history = 'vh', devices = 'vd' }
local META_NUMBERS = { 'c', 'l', 'i', 'a', 'e', 'vc', 'vp', 'vh', 'vd' }

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
-- server's collation locale, which must not decide which write wins.
local function bytesLess(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
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

-- HGETALL of a part's hash without the placeholder.
local function partFields(key)
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    if flat[i] == PLACEHOLDER then
      table.remove(flat, i)
      table.remove(flat, i)
      break
    end
  end
  return flat
end

local function ensurePartKeys()
  for _, key in ipairs({ CART, PREFS, HISTORY }) do redis.call('HSETNX', key, PLACEHOLDER, '') end
end

-- HSET of a field/value map, in one call (a no-op when the map is empty).
local function hsetMap(key, map)
  local args = toFlat(map)
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

-- Session metadata: strings in the hash, numbers here.
local function metaFromFlat(flat)
  if #flat == 0 then return nil end
  local m = toMap(flat)
  for _, field in ipairs(META_NUMBERS) do
    if m[field] ~= nil then m[field] = tonumber(m[field]) end
  end
  return m
end

local function readMeta()
  return metaFromFlat(redis.call('HGETALL', META))
end

local function metaToFlat(m)
  local flat = {}
  for field, value in pairs(m) do
    flat[#flat + 1] = field
    flat[#flat + 1] = type(value) == 'number' and int(value) or value
  end
  return flat
end

-- As matchToken(): how a presented token hash relates to a decoded device's
-- family — 'current', 'grace', 'reused' or 'none'. Lua strings are interned,
-- so == compares pointers: its time does not depend on how many leading bytes match.
local function tokenMatch(d, hash, now)
  if d == nil or d.x ~= nil then return 'none' end
  if d.h == hash then return 'current' end
  if d.p == hash then return (d.u ~= nil and now < d.u) and 'grace' or 'reused' end
  local verdict = 'none'
  if type(d.r) == 'table' then
    for _, retired in ipairs(d.r) do
      if retired == hash then verdict = 'reused' end
    end
  end
  return verdict
end

local function deadline(m)
  return math.min(m.i, m.a)
end

-- As isSessionLive(): not ended and neither deadline passed.
local function isLive(m, now)
  return m ~= nil and m.e == nil and now < deadline(m)
end

-- As slide(): activity moves the idle deadline, never past the absolute one.
local function slide(m, now, idle)
  m.l = math.max(m.l, now)
  m.i = math.max(m.i, math.min(now + idle, m.a))
end

-- As mergeMeta(): activity times take the maximum, the end is a tombstone
-- (earliest kept), the rest is set once at creation.
local function mergeMeta(x, y)
  x.l = math.max(x.l, y.l)
  x.i = math.max(x.i, y.i)
  if y.e ~= nil and (x.e == nil or y.e < x.e) then x.e = y.e end
end

local function versionOf(m, part)
  return 'v' .. int(m[VERSION_FIELD[part]] or 0)
end

-- Keys expire on a grid of step milliseconds past the session's deadline
-- (never past the absolute one), so the deadline of the keys — and of the
-- user index that must outlive them — moves once per step, not on every
-- write. Loads check the deadline in the metadata, so the slack is never served.
local function keyDeadline(m, step)
  local k = math.ceil(deadline(m) / step) * step
  return math.min(k, m.a)
end

-- Gives every key of the session the same deadline. Keys written by this
-- script may be new (without a TTL), so they are always set; the others only
-- when the deadline moved. Returns the deadline and whether it moved.
local function settleExpiry(m, step, written)
  local k = keyDeadline(m, step)
  local before = redis.call('PEXPIRETIME', META)
  if before ~= k then
    redis.call('PEXPIREAT', META, k)
    for _, key in ipairs(DATA_KEYS) do redis.call('PEXPIREAT', key, k) end
  else
    for key in pairs(written) do redis.call('PEXPIREAT', key, k) end
  end
  return k, before ~= k
end
`;

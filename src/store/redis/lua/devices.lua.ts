/**
 * Lua twin of `src/domain/devices.ts` (the join, rotation) and of
 * `src/tokens/token-match.ts` (the verdict on a presented token), over the
 * stored device encoding of `../codec.ts`: a cjson object with short keys,
 * `r` (retired hashes) omitted when empty so that cjson never has to tell an
 * empty array from an object.
 */
export const DEVICES_LUA = String.raw`
local DEVICE_FIELDS = { 'c', 'l', 'g', 'h', 'p', 'u', 'x', 't', 'n', 'k', 'a', 'i', 'av', 'al', 'co', 'li', 'lc', 'ti', 'ta', 'rf' }
local RETIRED_HASHES_KEPT = 4

local function decodeDevice(text)
  return cjson.decode(text)
end

local function encodeDevice(d)
  if d.r ~= nil and #d.r == 0 then d.r = nil end
  return cjson.encode(d)
end

local function copyDevice(d)
  local copy = {}
  for field, value in pairs(d) do copy[field] = value end
  if d.r ~= nil then
    copy.r = {}
    for i, h in ipairs(d.r) do copy.r[i] = h end
  end
  return copy
end

local function sameDevice(x, y)
  for _, field in ipairs(DEVICE_FIELDS) do
    if x[field] ~= y[field] then return false end
  end
  local rx, ry = x.r or {}, y.r or {}
  if #rx ~= #ry then return false end
  for i = 1, #rx do
    if rx[i] ~= ry[i] then return false end
  end
  return true
end

-- As canonicalDevice(): generation, stamp, revocation (and its reason, when recorded).
local function canonicalDevice(d)
  local text = int(d.g) .. '|' .. d.t .. '|' .. (d.x ~= nil and int(d.x) or '')
  if d.rf ~= nil then text = text .. '|' .. d.rf end
  return text
end
CANONICAL.devices = function(text) return canonicalDevice(decodeDevice(text)) end

local function seenText(d)
  return (d.li or '') .. '\n' .. (d.lc or '')
end

-- As mergeDevice(): the higher (generation, stamp) owns the token fields (and
-- the authentication time, level and a transient device's limits), activity
-- takes the maximum and where the device was last seen comes with it (a tie:
-- the larger text), revocation is a tombstone (earliest kept, with its reason;
-- a tie: the larger reason).
local function mergeDevice(x, y)
  local owner
  if x.g ~= y.g then
    owner = x.g > y.g and x or y
  else
    owner = bytesLess(x.t, y.t) and y or x
  end
  local merged = copyDevice(owner)
  merged.l = math.max(x.l, y.l)
  local seen
  if x.l ~= y.l then
    seen = x.l > y.l and x or y
  else
    seen = bytesLess(seenText(x), seenText(y)) and y or x
  end
  merged.li, merged.lc = seen.li, seen.lc
  local revoked = nil
  if x.x ~= nil and y.x ~= nil then
    if x.x ~= y.x then
      revoked = x.x < y.x and x or y
    else
      revoked = bytesLess(x.rf or '', y.rf or '') and y or x
    end
  else
    revoked = (x.x ~= nil and x) or (y.x ~= nil and y) or nil
  end
  merged.x = revoked and revoked.x or nil
  merged.rf = revoked and revoked.rf or nil
  return merged
end

-- As rotateDevice(): generation + 1, the old hash kept for the grace window,
-- older ones remembered (newest first) for tokens that carry no generation.
-- A re-authentication (reauth true) also sets the authentication time and level.
local function rotateDevice(d, hash, now, graceMs, stamp, reauth, level)
  local rotated = copyDevice(d)
  if reauth then
    rotated.av = now
    rotated.al = level
  end
  local retired = {}
  if d.p ~= nil then retired[1] = d.p end
  for _, h in ipairs(d.r or {}) do
    if #retired < RETIRED_HASHES_KEPT then retired[#retired + 1] = h end
  end
  rotated.r = retired
  rotated.g = d.g + 1
  rotated.h = hash
  rotated.p = d.h
  rotated.u = now + graceMs
  rotated.l = math.max(d.l, now)
  rotated.t = stamp
  return rotated
end

-- As activeDevice(): activity at now, seen from ip and country when either is given ('' is none).
local function activeDevice(d, now, seenIp, seenCountry)
  local active = copyDevice(d)
  active.l = now
  if seenIp ~= '' or seenCountry ~= '' then
    active.li = seenIp ~= '' and seenIp or nil
    active.lc = seenCountry ~= '' and seenCountry or nil
  end
  return active
end

-- As leastRecentlyActive(): the count live devices with the smallest last
-- activity, then the smallest id (byte order).
local function leastRecentlyActive(devices, count)
  local live = {}
  for id, d in pairs(devices) do
    if d.x == nil then live[#live + 1] = { id = id, l = d.l } end
  end
  table.sort(live, function(p, q)
    if p.l ~= q.l then return p.l < q.l end
    return bytesLess(p.id, q.id)
  end)
  local ids = {}
  for i = 1, math.min(count, #live) do ids[i] = live[i].id end
  return ids
end
`;

/**
 * Lua twin of `matchToken` in `src/tokens/token-match.ts`, on a decoded device;
 * apart, so that the load script (the hot path) takes it alone.
 */
export const TOKEN_MATCH_LUA = String.raw`
-- As matchToken(): how a presented token (hash, generation or '') relates to a
-- device's family — 'current', 'grace', 'reused' or 'none'. Lua strings are
-- interned, so == compares pointers: its time does not depend on how many
-- leading bytes match.
local function tokenMatch(d, hash, gen, now, idle)
  if d == nil or d.x ~= nil then return 'none' end
  -- A transient device has its own, shorter limits ("remember me" unticked).
  if d.ti ~= nil and d.ti < idle then idle = d.ti end
  if now >= d.l + idle then return 'none' end
  if d.ta ~= nil and now >= d.ta then return 'none' end
  if d.h == hash then
    if gen == nil or gen == d.g then return 'current' end
    return 'none'
  end
  if d.p == hash then return (d.u ~= nil and now < d.u) and 'grace' or 'reused' end
  local verdict = 'none'
  if type(d.r) == 'table' then
    for _, retired in ipairs(d.r) do
      if retired == hash then verdict = 'reused' end
    end
  end
  if verdict == 'none' and gen ~= nil and gen < d.g then verdict = 'reused' end
  return verdict
end

local function tokenAccepted(d, hash, gen, now, idle)
  local verdict = tokenMatch(d, hash, gen, now, idle)
  return verdict == 'current' or verdict == 'grace'
end
`;

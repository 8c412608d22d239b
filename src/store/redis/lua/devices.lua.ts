/**
 * Lua twin of `src/domain/devices.ts` (the join, rotation) and of
 * `src/tokens/token-match.ts` (the verdict on a presented token), over the
 * stored device encoding of `../codec.ts`: a cjson object with short keys,
 * `r` (retired hashes) omitted when empty so that cjson never has to tell an
 * empty array from an object.
 */
export const DEVICES_LUA = String.raw`
local DEVICE_FIELDS = { 'c', 'l', 'g', 'h', 'p', 'u', 'x', 't', 'n', 'k', 'a', 'i' }
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

-- As canonicalDevice(): generation, stamp, revocation.
local function canonicalDevice(d)
  return int(d.g) .. '|' .. d.t .. '|' .. (d.x ~= nil and int(d.x) or '')
end
CANONICAL.devices = function(text) return canonicalDevice(decodeDevice(text)) end

-- As mergeDevice(): the higher (generation, stamp) owns the token fields,
-- activity takes the maximum, revocation is a tombstone (earliest kept).
local function mergeDevice(x, y)
  local owner
  if x.g ~= y.g then
    owner = x.g > y.g and x or y
  else
    owner = bytesLess(x.t, y.t) and y or x
  end
  local merged = copyDevice(owner)
  merged.l = math.max(x.l, y.l)
  if x.x ~= nil and y.x ~= nil then
    merged.x = math.min(x.x, y.x)
  else
    merged.x = x.x or y.x
  end
  return merged
end

-- As rotateDevice(): generation + 1, the old hash kept for the grace window,
-- older ones remembered (newest first) for tokens that carry no generation.
local function rotateDevice(d, hash, now, graceMs, stamp)
  local rotated = copyDevice(d)
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
  if now >= d.l + idle then return 'none' end
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

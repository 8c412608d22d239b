/**
 * Lua twin of `src/domain/session.ts` (metadata: liveness, sliding, the join)
 * and of the expiry rules of `src/store/transition.ts`, over the metadata hash:
 *
 *   c created · l last active · i idle deadline · a absolute deadline ·
 *   s CSRF secret · u user id · e ended · r merged into · t largest stamp ·
 *   dc dp dh dd the parts' versions (`versions.lua.ts`) · w a merge into `r`
 *   not yet finished
 */
export const SESSION_LUA = String.raw`
local META_NUMBERS = { 'c', 'l', 'i', 'a', 'e', 'x' }
-- Fields of earlier releases (per-part counters), dropped on the next write.
local LEGACY_FIELDS = { vc = true, vp = true, vh = true, vd = true }

-- The metadata hash as this call last read or wrote it: each field's text, and
-- the numbers read from it. writeMeta sends only the fields that differ — a
-- write moves three or four of a dozen (activity, the idle deadline, the stamp,
-- a version) — and finds a number unchanged without writing it out.
local storedMeta, storedNumbers = {}, {}
eachCall(function() storedMeta, storedNumbers = {}, {} end)

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
  local flat = redis.call('HGETALL', META)
  local m = metaFromFlat(flat)
  storedMeta, storedNumbers = toMap(flat), {}
  if m ~= nil then
    for _, field in ipairs(META_NUMBERS) do storedNumbers[field] = m[field] end
  end
  return m
end

-- The metadata as hash fields (numbers as integers), legacy fields left out.
local function metaToFlat(m)
  local flat = {}
  for field, value in pairs(m) do
    if not LEGACY_FIELDS[field] then
      flat[#flat + 1] = field
      flat[#flat + 1] = type(value) == 'number' and int(value) or value
    end
  end
  return flat
end

-- Makes the metadata hash hold m: the fields that differ from what is stored
-- are set, and the fields m no longer has are removed (the legacy versions,
-- the user of an erased session, a finished merge's mark).
local function writeMeta(m)
  local changed, gone = {}, {}
  for field, value in pairs(m) do
    if not LEGACY_FIELDS[field] then
      local text = value
      if type(value) == 'number' then
        if storedNumbers[field] == value then text = storedMeta[field] else text = int(value) end
      end
      if storedMeta[field] ~= text then
        changed[#changed + 1] = field
        changed[#changed + 1] = text
      end
    end
  end
  for field in pairs(storedMeta) do
    if m[field] == nil or LEGACY_FIELDS[field] then gone[#gone + 1] = field end
  end
  if #gone > 0 then redis.call('HDEL', META, unpack(gone)) end
  if #changed > 0 then redis.call('HSET', META, unpack(changed)) end
  for _, field in ipairs(gone) do
    storedMeta[field] = nil
    storedNumbers[field] = nil
  end
  for i = 1, #changed, 2 do
    local field = changed[i]
    storedMeta[field] = changed[i + 1]
    if type(m[field]) == 'number' then storedNumbers[field] = m[field] end
  end
end

-- The metadata as writeMeta left it, as the apply reply's head line (see
-- APPLY in operations.lua.ts): the texts it wrote, by position, without
-- writing out its numbers again. One bulk string instead of two dozen.
local function writtenMetaHead(keyDeadline, moved, stamp)
  local s = storedMeta
  return table.concat({ int(keyDeadline), moved and '1' or '0', stamp, s.c, s.l, s.i, s.a, s.s or '',
    s.dc or '-', s.dp or '-', s.dh or '-', s.dd or '-', s.e or '-', s.x or '-', s.t or '-', s.r or '-',
    s.u and ('=' .. s.u) or '-' }, ' ')
end

local function deadline(m)
  return math.min(m.i, m.a)
end

-- As isSessionLive(): not ended and neither deadline passed.
local function isLive(m, now)
  return m ~= nil and m.e == nil and now < deadline(m)
end

-- As forgetAt(): when the session may be forgotten — its deadline (absolute once
-- ended or merged away) plus the replication horizon.
local function forgetAt(m, horizon)
  if m.e ~= nil or m.r ~= nil then return m.a + horizon end
  return deadline(m) + horizon
end

-- As slide(): activity moves the idle deadline, never past the absolute one.
local function slide(m, now, idle)
  m.l = math.max(m.l, now)
  m.i = math.max(m.i, math.min(now + idle, m.a))
end

-- As mergeMeta(): field-wise — activity and deadlines the maximum, the end the
-- earliest (and an ended session forgets its CSRF secret), the erasure the
-- earliest (and an erased session names no user), the redirect and the secret
-- set once, the stamp the largest.
local function mergeMeta(x, y)
  x.c = math.min(x.c, y.c)
  x.l = math.max(x.l, y.l)
  x.i = math.max(x.i, y.i)
  x.a = math.max(x.a, y.a)
  if x.u == nil then x.u = y.u end
  if y.e ~= nil and (x.e == nil or y.e < x.e) then x.e = y.e end
  if y.r ~= nil and (x.r == nil or bytesLess(y.r, x.r)) then x.r = y.r end
  if y.s ~= nil and (x.s == nil or bytesLess(x.s, y.s)) then x.s = y.s end
  if x.e ~= nil then x.s = '' end
  if y.x ~= nil and (x.x == nil or y.x < x.x) then x.x = y.x end
  if x.x ~= nil then x.u = nil end
  x.t = maxStamp(x.t, y.t)
end

-- Keys expire on a grid of step milliseconds past the moment the session may
-- be forgotten, so the deadline of the keys — and of the user index that must
-- outlive them — moves once per step, not on every write. Loads check the
-- deadlines in the metadata, so the slack is never served.
local function keyDeadline(m, step, horizon)
  local forget = forgetAt(m, horizon)
  return math.ceil(forget / step) * step
end

-- Gives every key of the session the same deadline. Keys written by this
-- script may be new (without a TTL), so they are always set; the others only
-- when the deadline moved. Returns the deadline and whether it moved.
local function settleExpiry(m, step, horizon, written)
  local k = keyDeadline(m, step, horizon)
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

/**
 * Lua twins of the part joins in `src/domain` (`mergeDevice`, `mergeCartLine`,
 * `mergeRegister`, `mergeHistory`), over the stored field encodings of
 * `../codec.ts`:
 *
 * - devices: field = device id, value = cjson object (`retired` omitted when
 *   empty, so that cjson never has to tell an empty array from an object);
 * - cart: field = SKU, value = cjson object `{n, at, a?, t?}` where `a` is the
 *   attributes' JSON text kept as a string (never re-encoded by Lua);
 * - prefs: field = top-level key, value = "<hlc> <JSON text of the value>";
 * - history: field = product id, value = epoch milliseconds.
 */
export const PARTS_LUA = String.raw`
-- Devices ------------------------------------------------------------------

local DEVICE_FIELDS = { 'c', 'l', 'g', 'h', 'p', 'u', 'x', 't', 'n', 'k', 'a', 'i' }

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

-- As isAccepted(matchToken()): the current token, or the previous one inside its grace window.
local function tokenAccepted(d, hash, now)
  local verdict = tokenMatch(d, hash, now)
  return verdict == 'current' or verdict == 'grace'
end

-- Cart ---------------------------------------------------------------------

local function decodeLine(text)
  return cjson.decode(text)
end

local function encodeLine(line)
  return cjson.encode(line)
end

local function copyLine(line)
  local n = {}
  for writer, c in pairs(line.n) do n[writer] = { c[1], c[2] } end
  return { n = n, at = line.at, a = line.a, t = line.t }
end

local function rawQuantity(line)
  local total = 0
  for _, c in pairs(line.n) do total = total + c[1] - c[2] end
  return total
end

local function quantityOf(line)
  if line == nil then return 0 end
  return math.max(0, rawQuantity(line))
end

-- As setLineQuantity(): moves the writer's counters so the quantity becomes target.
local function setLineQuantity(line, writer, target, now)
  local base = line and copyLine(line) or { n = {}, at = now }
  local delta = target - rawQuantity(base)
  if delta == 0 then return base end
  if delta > 0 then
    local c = base.n[writer] or { 0, 0 }
    base.n[writer] = { c[1] + delta, c[2] }
    return base
  end
  -- A decrease retracts units writer by writer in name order, never past what a writer added,
  -- so replicas that saw the same line and remove the same units write the same marks.
  local names = {}
  for name in pairs(base.n) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local c = base.n[name]
    local retract = math.min(-delta, c[1] - c[2])
    if retract > 0 then
      base.n[name] = { c[1], c[2] + retract }
      delta = delta + retract
      if delta == 0 then break end
    end
  end
  return base
end

-- As pickAttributes(): the later stamp wins; equal stamps compare contents.
local function pickAttributes(x, y)
  if x.a == nil then return y.a, y.t end
  if y.a == nil then return x.a, x.t end
  if x.t ~= y.t then
    if bytesLess(x.t, y.t) then return y.a, y.t end
    return x.a, x.t
  end
  if bytesLess(x.a, y.a) then return y.a, y.t end
  return x.a, x.t
end

-- As mergeCartLine(): keep the larger of every (writer, counter); earliest add.
local function mergeLine(x, y)
  local merged = copyLine(x)
  for writer, c in pairs(y.n) do
    local mine = merged.n[writer]
    if mine then
      merged.n[writer] = { math.max(mine[1], c[1]), math.max(mine[2], c[2]) }
    else
      merged.n[writer] = { c[1], c[2] }
    end
  end
  merged.at = math.min(x.at, y.at)
  merged.a, merged.t = pickAttributes(x, y)
  return merged
end

local function sameLine(x, y)
  if x.at ~= y.at or x.a ~= y.a or x.t ~= y.t then return false end
  for writer, c in pairs(x.n) do
    local d = y.n[writer]
    if d == nil or d[1] ~= c[1] or d[2] ~= c[2] then return false end
  end
  for writer in pairs(y.n) do
    if x.n[writer] == nil then return false end
  end
  return true
end

-- Preferences --------------------------------------------------------------

local function decodeRegister(text)
  local space = string.find(text, ' ', 1, true)
  return { t = string.sub(text, 1, space - 1), v = string.sub(text, space + 1) }
end

local function encodeRegister(r)
  return r.t .. ' ' .. r.v
end

-- As mergeRegister(): the larger stamp wins; equal stamps compare contents.
local function mergeRegister(x, y)
  if x.t ~= y.t then
    if bytesLess(x.t, y.t) then return y end
    return x
  end
  if bytesLess(x.v, y.v) then return y end
  return x
end

-- Bytes of JSON.stringify(s): quotes, two-byte escapes, \u00XX for other controls.
local function jsonStringBytes(s)
  local _, short = string.gsub(s, '["\\\8\9\10\12\13]', '')
  local _, long = string.gsub(s, '[%z\1-\7\11\14-\31]', '')
  return #s + 2 + short + 5 * long
end

-- As prefsSize(): bytes of the serialized preferences object (deleted keys left out).
local function prefsBytes(registers)
  local bytes, count = 2, 0
  for key, r in pairs(registers) do
    if r.v ~= 'null' then
      bytes = bytes + jsonStringBytes(key) + 1 + #r.v
      count = count + 1
    end
  end
  if count > 1 then bytes = bytes + count - 1 end
  return bytes
end

local function readRegisters()
  local registers = {}
  local flat = partFields(PREFS)
  for i = 1, #flat, 2 do registers[flat[i]] = decodeRegister(flat[i + 1]) end
  return registers
end

-- History ------------------------------------------------------------------

-- As trimHistory(): keep the newest limit entries by (viewedAt desc, productId asc).
local function trimHistory(limit)
  -- HLEN counts the placeholder: at most limit entries either way.
  if redis.call('HLEN', HISTORY) <= limit then return end
  local flat = partFields(HISTORY)
  local entries = {}
  for i = 1, #flat, 2 do entries[#entries + 1] = { flat[i], tonumber(flat[i + 1]) } end
  local function newer(p, q)
    if p[2] ~= q[2] then return p[2] > q[2] end
    return bytesLess(p[1], q[1])
  end
  if #entries - limit == 1 then
    -- A view added to a full history: the one to drop is the oldest, found without sorting.
    local oldest = entries[1]
    for i = 2, #entries do
      if newer(oldest, entries[i]) then oldest = entries[i] end
    end
    redis.call('HDEL', HISTORY, oldest[1])
    return
  end
  table.sort(entries, newer)
  local drop = {}
  for i = limit + 1, #entries do
    drop[#drop + 1] = entries[i][1]
    if #drop == 1000 then
      redis.call('HDEL', HISTORY, unpack(drop))
      drop = {}
    end
  end
  if #drop > 0 then redis.call('HDEL', HISTORY, unpack(drop)) end
end
`;

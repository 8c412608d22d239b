/**
 * Lua twin of `src/domain/cart.ts` over the stored line encoding of
 * `../codec.ts`: field = SKU, value = cjson object `{n, at, a?, t?}` where `a`
 * is the attributes' JSON text kept as a string (never re-encoded by Lua).
 */
export const CART_LUA = String.raw`
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

-- As canonicalCartLine(): first add, counters per writer in byte order, attributes' stamp and JSON.
local function canonicalLine(line)
  local writers = {}
  for writer in pairs(line.n) do writers[#writers + 1] = writer end
  table.sort(writers, bytesLess)
  local counters = {}
  for i, writer in ipairs(writers) do
    local c = line.n[writer]
    counters[i] = writer .. ':' .. int(c[1]) .. ':' .. int(c[2])
  end
  local attributes = line.a ~= nil and (line.t .. ' ' .. line.a) or ''
  return int(line.at) .. '|' .. table.concat(counters, ',') .. '|' .. attributes
end
CANONICAL.cart = function(text) return canonicalLine(decodeLine(text)) end

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
  table.sort(names, bytesLess)
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
`;

/**
 * The join of any part, table-driven, as `mergePart` in `src/domain/parts.ts`
 * dispatches to each part's join: every script that joins an entry (the merge
 * of change records, parked records, the operations' own records) goes
 * through `joinEntry`, so a part's join rule lives once, in its part file, and
 * the parity tests hold it to its TypeScript twin. Every entry written moves
 * the part's version (`versions.lua.ts`).
 */
export const JOINS_LUA = String.raw`
local JOINS = {
  devices = { decode = decodeDevice, encode = encodeDevice, merge = mergeDevice, same = sameDevice },
  cart = { decode = decodeLine, encode = encodeLine, merge = mergeLine, same = sameLine },
  prefs = {
    decode = decodeRegister, encode = encodeRegister, merge = mergeRegister,
    same = function(x, y) return x.t == y.t and x.v == y.v end,
  },
  history = {
    -- Wrapped: the library's top level sees no tonumber or math (common.lua.ts).
    decode = function(text) return tonumber(text) end, encode = int, merge = function(x, y) return math.max(x, y) end,
    same = function(x, y) return x == y end,
  },
}

-- Writes an entry's new stored text over its old one (nil: absent), moving the part's version.
local function writeEntry(m, part, field, old, text)
  setPartEntry(part, field, text)
  moveVersion(m, part, field, old, text)
end

-- Joins an incoming entry (stored encoding) into a part; true when the stored entry changed.
local function joinEntry(m, part, field, value)
  local join = JOINS[part]
  local stored = partEntry(part, field)
  local merged = join.decode(value)
  if stored ~= nil then
    local mine = join.decode(stored)
    merged = join.merge(mine, merged)
    if join.same(mine, merged) then return false end
  end
  writeEntry(m, part, field, stored, join.encode(merged))
  return true
end

-- Joins a decoded value (already in Lua form) into a part; returns the merged value.
local function joinValue(m, part, field, value)
  local join = JOINS[part]
  local stored = partEntry(part, field)
  local merged = value
  if stored ~= nil then merged = join.merge(join.decode(stored), value) end
  writeEntry(m, part, field, stored, join.encode(merged))
  return merged
end
`;

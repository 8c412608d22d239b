/**
 * Lua twin of `src/domain/prefs.ts` (registers, their join, the size limit)
 * over the stored encoding of `../codec.ts`: field = top-level key, value =
 * "<hlc> <JSON text of the value>". The merge patch itself is in
 * `merge-patch.lua.ts`.
 */
export const PREFS_LUA = String.raw`
local function decodeRegister(text)
  local space = string.find(text, ' ', 1, true)
  return { t = string.sub(text, 1, space - 1), v = string.sub(text, space + 1) }
end

local function encodeRegister(r)
  return r.t .. ' ' .. r.v
end

-- As canonicalRegister(): the stored text is canonical already.
CANONICAL.prefs = function(text) return text end

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
`;

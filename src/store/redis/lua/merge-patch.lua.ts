/**
 * JSON merge patch (RFC 7396) in Lua, on JSON text, as `applyMergePatch` in
 * `src/domain/prefs.ts`.
 *
 * cjson would lose what the TypeScript twin keeps: the order of keys, numbers
 * beyond 14 significant digits, the difference between `{}` and `[]`, and
 * `null` (as cjson.null). So objects are parsed into ordered key lists whose
 * keys and leaf values stay the exact JSON text they came as (text written by
 * JSON.stringify), and only objects are ever rebuilt. The result is the text
 * JSON.stringify would give, so the preferences size limit counts the same
 * bytes on every engine.
 */
export const MERGE_PATCH_LUA = String.raw`
local function skipSpace(s, i)
  return string.find(s, '[^ \t\n\r]', i) or (#s + 1)
end

-- Index just past the string literal starting at i.
local function stringEnd(s, i)
  local j = i + 1
  while true do
    local k = string.find(s, '["\\]', j)
    if k == nil then error('malformed JSON: unterminated string') end
    if string.byte(s, k) == 34 then return k + 1 end
    j = k + 2
  end
end

-- Index just past the array, string, number or literal starting at i.
local function valueEnd(s, i)
  local b = string.byte(s, i)
  if b == 34 then return stringEnd(s, i) end
  if b == 91 or b == 123 then
    local depth, j = 0, i
    while true do
      local k = string.find(s, '[%[%]{}"]', j)
      if k == nil then error('malformed JSON: unterminated array') end
      local c = string.byte(s, k)
      if c == 34 then
        j = stringEnd(s, k)
      else
        depth = depth + ((c == 91 or c == 123) and 1 or -1)
        j = k + 1
        if depth == 0 then return j end
      end
    end
  end
  return string.find(s, '[,%]}%s]', i) or (#s + 1)
end

-- A node is { raw = text } for anything but an object, or
-- { keys = { keyText... }, values = { [keyText] = node } } for an object.
local parseValue

local function parseObject(s, i)
  local node = { keys = {}, values = {} }
  i = skipSpace(s, i + 1)
  if string.byte(s, i) == 125 then return node, i + 1 end
  while true do
    i = skipSpace(s, i)
    local keyEnd = stringEnd(s, i)
    local key = string.sub(s, i, keyEnd - 1)
    i = skipSpace(s, keyEnd) + 1
    local value
    value, i = parseValue(s, i)
    if node.values[key] == nil then node.keys[#node.keys + 1] = key end
    node.values[key] = value
    i = skipSpace(s, i)
    local c = string.byte(s, i)
    i = i + 1
    if c == 125 then return node, i end
    if c ~= 44 then error('malformed JSON: expected , or }') end
  end
end

parseValue = function(s, i)
  i = skipSpace(s, i)
  if string.byte(s, i) == 123 then return parseObject(s, i) end
  local e = valueEnd(s, i)
  return { raw = string.sub(s, i, e - 1) }, e
end

-- The array index a key's JSON text names, if it names one ("0", "17", not "07"
-- or "4294967295"): JavaScript objects put such keys first, in ascending order,
-- and the rest in insertion order; JSON.stringify follows, and so must this.
local function arrayIndex(keyText)
  local digits = string.match(keyText, '^"(%d+)"$')
  if digits == nil or #digits > 10 or (#digits > 1 and string.byte(digits, 1) == 48) then return nil end
  local n = tonumber(digits)
  if n >= 4294967295 then return nil end
  return n
end

local function encodeNode(node)
  if node.raw ~= nil then return node.raw end
  local indices, named = {}, {}
  for _, key in ipairs(node.keys) do
    -- A key deleted by the patch stays in the list with no value.
    if node.values[key] ~= nil then
      local index = arrayIndex(key)
      if index ~= nil then indices[#indices + 1] = { index, key } else named[#named + 1] = key end
    end
  end
  table.sort(indices, function(p, q) return p[1] < q[1] end)
  local parts = {}
  for _, entry in ipairs(indices) do parts[#parts + 1] = entry[2] .. ':' .. encodeNode(node.values[entry[2]]) end
  for _, key in ipairs(named) do parts[#parts + 1] = key .. ':' .. encodeNode(node.values[key]) end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- RFC 7396 MergePatch(target, patch); target may be nil.
local function mergePatchNode(target, patch)
  if patch.raw ~= nil then return patch end
  local result = { keys = {}, values = {} }
  if target ~= nil and target.raw == nil then
    for _, key in ipairs(target.keys) do
      if target.values[key] ~= nil then
        result.keys[#result.keys + 1] = key
        result.values[key] = target.values[key]
      end
    end
  end
  for _, key in ipairs(patch.keys) do
    local value = patch.values[key]
    if value.raw == 'null' then
      result.values[key] = nil
    else
      if result.values[key] == nil then result.keys[#result.keys + 1] = key end
      result.values[key] = mergePatchNode(result.values[key], value)
    end
  end
  return result
end

-- The JSON text of applyMergePatch(current, patch); current is JSON text or nil.
local function mergePatchText(current, patchText)
  local patch = parseValue(patchText, 1)
  if patch.raw ~= nil then return patch.raw end
  local target = nil
  if current ~= nil then target = parseValue(current, 1) end
  return encodeNode(mergePatchNode(target, patch))
end
`;

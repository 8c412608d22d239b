/**
 * Lua twin of `src/domain/versions.ts`: a part's version is the XOR of one
 * 64-bit hash per entry (SHA-1 of "<part>\n<key>\n<canonical value>", its
 * first 16 hex digits), kept in the metadata hash (`dc dp dh dd`) and moved
 * entry by entry as a script writes: XOR out the old entry, XOR in the new.
 * Each part's Lua gives the canonical value text (`canonicalLine`,
 * `canonicalRegister`, `canonicalDevice`, a view time for history).
 */
export const VERSIONS_LUA = String.raw`
local EMPTY_VERSION = '0000000000000000'
-- part -> function(stored value text) -> canonical text; each part's Lua fills its own.
local CANONICAL = {}
local VERSION_FIELD = { cart = 'dc', prefs = 'dp', history = 'dh', devices = 'dd' }

local function versionHalves(hex)
  return { tonumber(string.sub(hex, 1, 8), 16), tonumber(string.sub(hex, 9, 16), 16) }
end

local function versionText(halves)
  return bit.tohex(halves[1], 8) .. bit.tohex(halves[2], 8)
end

local function flipEntry(halves, part, key, text)
  local h = redis.sha1hex(part .. '\n' .. key .. '\n' .. text)
  halves[1] = bit.bxor(halves[1], tonumber(string.sub(h, 1, 8), 16))
  halves[2] = bit.bxor(halves[2], tonumber(string.sub(h, 9, 16), 16))
end

-- Versions being moved by this script: part -> halves; written back by saveVersions.
local moving = {}
eachCall(function() moving = {} end)

-- The version of a part as stored, computed from every entry for a session
-- written before versions were digests (canonical: the part's canonical text function).
local function versionOf(m, part)
  local stored = m[VERSION_FIELD[part]]
  if stored ~= nil then return stored end
  local halves = { 0, 0 }
  local flat = partFields(PART_KEY[part])
  for i = 1, #flat, 2 do flipEntry(halves, part, flat[i], CANONICAL[part](flat[i + 1])) end
  return versionText(halves)
end

-- An entry of a part changes from old to new stored text (either may be nil: absent).
local function moveVersion(m, part, key, old, new)
  if old == new then return end
  local halves = moving[part]
  if halves == nil then
    halves = versionHalves(versionOf(m, part))
    moving[part] = halves
  end
  if old ~= nil then flipEntry(halves, part, key, CANONICAL[part](old)) end
  if new ~= nil then flipEntry(halves, part, key, CANONICAL[part](new)) end
end

-- Writes the moved versions into m; returns the parts whose version changed.
local function saveVersions(m)
  local changed = {}
  for part, halves in pairs(moving) do
    local text = versionText(halves)
    if text ~= versionOf(m, part) then changed[#changed + 1] = part end
    m[VERSION_FIELD[part]] = text
  end
  moving = {}
  return changed
end

-- Every part emptied (an ended or merged-away session).
local function emptyVersions(m)
  moving = {}
  for _, part in ipairs(DATA_PARTS) do m[VERSION_FIELD[part]] = EMPTY_VERSION end
end
`;

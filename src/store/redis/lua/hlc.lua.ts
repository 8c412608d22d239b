/**
 * Lua twin of `stampAbove` in `src/domain/hlc.ts`: stamps are
 * `wwwwwwwwwwww.cccc.origin` (hex wall clock and counter), ordered as strings.
 */
export const HLC_LUA = String.raw`
-- The stamp when it is above floor (or there is none), else the successor of
-- floor — one tick later in its millisecond — with the stamp's own origin.
local function stampAbove(stamp, floor)
  if floor == nil or floor == '' or bytesLess(floor, stamp) then return stamp end
  local origin = string.sub(stamp, 19)
  local wall, counter = tonumber(string.sub(floor, 1, 12), 16), tonumber(string.sub(floor, 14, 17), 16)
  if counter < 65535 then
    counter = counter + 1
  else
    wall, counter = wall + 1, 0
  end
  return string.format('%012x.%04x.', wall, counter) .. origin
end

local function maxStamp(a, b)
  if a == nil or a == '' then return b end
  if b == nil or b == '' then return a end
  if bytesLess(a, b) then return b end
  return a
end
`;

/**
 * Lua twin of `src/domain/history.ts`: field = product id, value = the view
 * time in epoch milliseconds; the newest `limit` kept.
 */
export const HISTORY_LUA = String.raw`
CANONICAL.history = function(text) return text end

-- As trimHistory(): keep the newest limit entries by (viewedAt desc, productId asc).
-- Calls dropped(productId, viewedAtText) for each entry it removes.
local function trimHistory(limit, dropped)
  -- HLEN counts the placeholder: at most limit entries either way.
  if redis.call('HLEN', HISTORY) <= limit then return end
  local flat = partFields(HISTORY)
  local entries = {}
  for i = 1, #flat, 2 do entries[#entries + 1] = { flat[i], tonumber(flat[i + 1]), flat[i + 1] } end
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
    dropped(oldest[1], oldest[3])
    return
  end
  table.sort(entries, newer)
  local drop = {}
  for i = limit + 1, #entries do
    drop[#drop + 1] = entries[i][1]
    dropped(entries[i][1], entries[i][3])
    if #drop == 1000 then
      redis.call('HDEL', HISTORY, unpack(drop))
      drop = {}
    end
  end
  if #drop > 0 then redis.call('HDEL', HISTORY, unpack(drop)) end
end
`;

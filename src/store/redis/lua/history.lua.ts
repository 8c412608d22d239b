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
  -- One pass over the fields, without a table per entry: how many entries, and the oldest.
  local flat = redis.call('HGETALL', HISTORY)
  local count, oldestId, oldestAt, oldestText = 0, nil, nil, nil
  for i = 1, #flat, 2 do
    local id = flat[i]
    if id ~= PLACEHOLDER then
      count = count + 1
      local at = tonumber(flat[i + 1])
      if oldestId == nil or at < oldestAt or (at == oldestAt and bytesLess(oldestId, id)) then
        oldestId, oldestAt, oldestText = id, at, flat[i + 1]
      end
    end
  end
  -- A full history whose product was viewed again: nothing to drop.
  if count <= limit then return end
  if count - limit == 1 then
    -- A view added to a full history: the one to drop is the oldest, found without sorting.
    redis.call('HDEL', HISTORY, oldestId)
    dropped(oldestId, oldestText)
    return
  end
  local entries = {}
  for i = 1, #flat, 2 do
    if flat[i] ~= PLACEHOLDER then entries[#entries + 1] = { flat[i], tonumber(flat[i + 1]), flat[i + 1] } end
  end
  local function newer(p, q)
    if p[2] ~= q[2] then return p[2] > q[2] end
    return bytesLess(p[1], q[1])
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

/**
 * Lua twin of `src/domain/history.ts`: member = product id, score = the view
 * time in epoch milliseconds (a sorted set since D93; a hash, field = product
 * id, before: `common.lua.ts`); the newest `limit` kept.
 */
export const HISTORY_LUA = String.raw`
CANONICAL.history = function(text) return text end

-- Removes the entries of a sorted-set history, calling dropped(productId, viewedAtText) for each.
local function dropSorted(entries, dropped)
  local ids = {}
  for i, entry in ipairs(entries) do
    ids[i] = entry[1]
    dropped(entry[1], entry[2])
  end
  callInChunks('ZREM', HISTORY, ids)
end

-- trimHistory of a sorted set: its first members are the oldest views, those of one view time
-- in byte order of their ids (Redis orders equal scores so), and of those the greatest id goes
-- first. A view added to a full history reads two members, not every one.
-- Returns the entries to drop ({ productId, viewedAtText } each), or nil when none.
local function trimSorted(limit)
  local count = redis.call('ZCARD', HISTORY)
  if count <= limit then return nil end
  if redis.call('ZSCORE', HISTORY, PLACEHOLDER) then count = count - 1 end
  local excess = count - limit
  if excess <= 0 then return nil end
  -- The excess oldest, and the member after them: the placeholder, scored +inf, never among them.
  local low = redis.call('ZRANGE', HISTORY, 0, excess, 'WITHSCORES')
  local boundary = low[2 * excess]
  local drop, tied = {}, 0
  for i = 1, 2 * excess, 2 do
    if low[i + 1] == boundary then tied = tied + 1 else drop[#drop + 1] = { low[i], low[i + 1] } end
  end
  if low[2 * excess + 2] ~= boundary then
    -- Every member of the boundary's view time is among the excess: all go.
    for i = 1, 2 * excess, 2 do
      if low[i + 1] == boundary then drop[#drop + 1] = { low[i], boundary } end
    end
  else
    -- More members share that view time than go: the greatest ids go.
    for _, id in ipairs(redis.call('ZRANGE', HISTORY, boundary, boundary, 'BYSCORE', 'REV', 'LIMIT', 0, tied)) do
      drop[#drop + 1] = { id, boundary }
    end
  end
  return drop
end

-- As trimHistory(): keep the newest limit entries by (viewedAt desc, productId asc).
-- Calls dropped(productId, viewedAtText) for each entry it removes.
local function trimHistory(limit, dropped)
  if historySorted() then
    local drop = trimSorted(limit)
    if drop ~= nil then dropSorted(drop, dropped) end
    return
  end
  -- A hash (D93: written by an earlier release, or HISTORY_FORM 'hash').
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
  end
  callInChunks('HDEL', HISTORY, drop)
end
`;

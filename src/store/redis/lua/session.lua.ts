/**
 * The other session scripts: load (the hot-path read), create, touch and the
 * generic merge of change records. Each runs on the five keys of one session.
 */

/**
 * ARGV: now, then per part (cart, prefs, history) '-' | '*' | a known version,
 * then a device id and the SHA-256 of a presented token secret ('' and '': no
 * credential to check).
 * Reply: nil when the session is absent, ended or expired; else
 * {head, devices, cart, prefs, history}. head is one line of space-separated
 * fields — the credential's verdict ('current' | 'grace' | 'reused' | 'none',
 * '-' without a credential), c, l, i, a, s, vc, vp, vh, vd, and last the user
 * id after '=' ('-' for a guest), so that it may hold any character: one bulk
 * string costs the client a fraction of eleven. The rest are flat field/value
 * lists. devices is every device when asked for ('*') or when no credential
 * was given, else false: a checked token needs no device sent back. A part
 * not sent is false.
 */
export const LOAD_LUA = String.raw`
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', META)
local raw = toMap(flat)
if #flat == 0 or raw.e ~= nil or now >= math.min(tonumber(raw.i), tonumber(raw.a)) then return false end
-- Per part: '-' not wanted; '*' wanted; a number: wanted unless that is still its version
-- (the caller holds it: the L1 cache revalidating). A part not sent comes back as false.
local function wanted(arg, version)
  return arg == '*' or (arg ~= '-' and arg ~= (version or '0'))
end
local deviceId, hash = ARGV[6], ARGV[7]
local verdict, devices = false, false
if hash ~= '' then
  local stored = redis.call('HGET', DEVICES, deviceId)
  verdict = tokenMatch(stored and cjson.decode(stored) or nil, hash, now)
end
if ARGV[5] == '*' or hash == '' then devices = redis.call('HGETALL', DEVICES) end
local head = table.concat({ verdict or '-', raw.c, raw.l, raw.i, raw.a, raw.s or '',
  raw.vc or '0', raw.vp or '0', raw.vh or '0', raw.vd or '0', raw.u and ('=' .. raw.u) or '-' }, ' ')
local reply = { head, devices, false, false, false }
if wanted(ARGV[2], raw.vc) then reply[3] = partFields(CART) end
if wanted(ARGV[3], raw.vp) then reply[4] = partFields(PREFS) end
if wanted(ARGV[4], raw.vh) then reply[5] = partFields(HISTORY) end
return reply
`;

/**
 * ARGV: stepMs, deviceId, deviceJson, then the metadata as field/value pairs.
 * Reply: {'created', keyDeadline} or {'exists'}.
 */
export const CREATE_LUA = String.raw`
if redis.call('EXISTS', META) == 1 then return { 'exists' } end
local step = tonumber(ARGV[1])
local fields = { 'vc', '0', 'vp', '0', 'vh', '0', 'vd', '1' }
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', META, unpack(fields))
redis.call('HSET', DEVICES, ARGV[2], ARGV[3])
ensurePartKeys()
local k = settleExpiry(readMeta(), step, { [META] = true, [DEVICES] = true, [CART] = true, [PREFS] = true, [HISTORY] = true })
return { 'created', k }
`;

/**
 * ARGV: now, deviceId, idleMs, stepMs.
 * Reply: {0} when the session is not live, else {1, keyDeadline, deadlineMoved, userId|nil}.
 */
export const TOUCH_LUA = String.raw`
local now, deviceId, idle, step = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local m = readMeta()
if not isLive(m, now) then return { 0 } end
local written = {}
local stored = redis.call('HGET', DEVICES, deviceId)
if stored then
  local d = decodeDevice(stored)
  if now > d.l then
    d.l = now
    redis.call('HSET', DEVICES, deviceId, encodeDevice(d))
    written[DEVICES] = true
  end
end
slide(m, now, idle)
redis.call('HSET', META, 'l', int(m.l), 'i', int(m.i))
local k, moved = settleExpiry(m, step, written)
return { 1, k, moved and 1 or 0, m.u or false }
`;

/**
 * Joins change records into the session, field by field, with the part's
 * join; bumps the version of every data part whose state changed. Creates the
 * session from the first metadata record when it is absent and that metadata
 * is live; otherwise records for an absent session are dropped. An ended
 * session keeps only its metadata.
 *
 * ARGV: now, stepMs, historyItems, then per record: part, fieldCount, fields
 * and values (stored encodings).
 * Reply: {status ('merged' | 'created' | 'ignored'), keyDeadline, deadlineMoved, ended, userId|nil}.
 */
export const MERGE_LUA = String.raw`
local now, step, historyLimit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local records = {}
local i = 4
while i <= #ARGV do
  local count = tonumber(ARGV[i + 1])
  local flat = {}
  for j = 1, count * 2 do flat[j] = ARGV[i + 1 + j] end
  records[#records + 1] = { part = ARGV[i], flat = flat }
  i = i + 2 + count * 2
end

local m = readMeta()
local status = 'merged'
if m == nil then
  for _, r in ipairs(records) do
    if r.part == 'meta' then
      m = metaFromFlat(r.flat)
      break
    end
  end
  if not isLive(m, now) then return { 'ignored' } end
  m.vc, m.vp, m.vh, m.vd = 0, 0, 0, 0
  status = 'created'
  ensurePartKeys()
end

for _, r in ipairs(records) do
  if r.part == 'meta' then mergeMeta(m, metaFromFlat(r.flat)) end
end

local written = { [META] = true }
local changed = {}
if m.e == nil then
  local registers = nil
  for _, r in ipairs(records) do
    local key = PART_KEY[r.part]
    for j = 1, #r.flat, 2 do
      local field, value = r.flat[j], r.flat[j + 1]
      local stored = key and redis.call('HGET', key, field)
      local result = nil
      if r.part == 'devices' then
        local incoming = decodeDevice(value)
        local mine = stored and decodeDevice(stored) or nil
        local merged = mine and mergeDevice(mine, incoming) or incoming
        if mine == nil or not sameDevice(mine, merged) then result = encodeDevice(merged) end
      elseif r.part == 'cart' then
        local incoming = decodeLine(value)
        local mine = stored and decodeLine(stored) or nil
        local merged = mine and mergeLine(mine, incoming) or incoming
        if mine == nil or not sameLine(mine, merged) then result = encodeLine(merged) end
      elseif r.part == 'prefs' then
        local incoming = decodeRegister(value)
        local mine = stored and decodeRegister(stored) or nil
        local merged = mine and mergeRegister(mine, incoming) or incoming
        if mine == nil or mine.t ~= merged.t or mine.v ~= merged.v then result = encodeRegister(merged) end
      elseif r.part == 'history' then
        local merged = math.max(stored and tonumber(stored) or 0, tonumber(value))
        if not stored or tonumber(stored) ~= merged then result = int(merged) end
      end
      if result ~= nil then
        redis.call('HSET', key, field, result)
        written[key] = true
        changed[r.part] = true
      end
    end
    if r.part == 'history' and changed.history then trimHistory(historyLimit) end
  end
else
  redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
end

for part in pairs(changed) do
  local field = VERSION_FIELD[part]
  m[field] = m[field] + 1
end
hsetMap(META, toMap(metaToFlat(m)))
local k, moved = settleExpiry(m, step, written)
return { status, k, moved and 1 or 0, m.e ~= nil and 1 or 0, m.u or false }
`;

/** Index of a user's session, one key per user in its own slot. */

/** KEYS: index. ARGV: expected session id, new session id, deadline. Reply: 1 when replaced. */
export const INDEX_REPLACE_LUA = String.raw`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`;

/** KEYS: index. ARGV: session id, deadline. Moves the index's deadline up, if it still names the session. */
export const INDEX_REFRESH_LUA = String.raw`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
`;

/** KEYS: index. ARGV: session id. Deletes the index if it still names the session. */
export const INDEX_DROP_LUA = String.raw`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

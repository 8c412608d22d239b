/**
 * The session scripts besides apply (`operations.lua.ts`): load (the hot-path
 * read), create, touch, the generic merge of change records, and the steps of
 * merging a session away into its user's other session. Each runs on the keys
 * of one session (`../keys.ts`), as the methods of the same names in
 * `src/store/sqlite/sqlite-store.ts` run on a row.
 */

/**
 * ARGV: now, then per part (cart, prefs, history, devices) '-' | '*' | a known
 * version, then a device id, the SHA-256 of a presented token secret and its
 * generation ('' and '' and '': no credential to check), and the idle timeout.
 * Reply: nil when the session is absent, ended or expired; {'moved', into,
 * csrfSecret} when it was merged into another; {'migrate'} when its versions
 * predate digests (MIGRATE_LUA, then load again); else {head, devices, cart,
 * prefs, history}. head is one line of space-separated fields — the
 * credential's verdict ('current' | 'grace' | 'reused' | 'none', '-' without
 * a credential), c, l, i, a, s, the versions of cart, prefs, history and
 * devices, the credential's device's last activity ('-' for none), the
 * session's largest stamp ('-' for none), the credential's device's
 * authentication time, level and persistence ('p' or 't'; '-' each for none),
 * and last the user id after '=' ('-' for a guest), so that it may hold any
 * character: one bulk string costs the
 * client a fraction of a dozen. The rest are flat field/value lists. devices
 * is every device when asked for ('*') or when no credential was given, else
 * false: a checked token needs no device sent back. A part not sent is false.
 */
export const LOAD_LUA = String.raw`
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', META)
if #flat == 0 then return false end
local raw = toMap(flat)
if raw.r ~= nil then return { 'moved', raw.r, raw.s or '' } end
if raw.e ~= nil or now >= math.min(tonumber(raw.i), tonumber(raw.a)) then return false end
-- A session written before versions were digests: MIGRATE computes them first.
if raw.dd == nil then return { 'migrate' } end
-- Per part: '-' not wanted; '*' wanted; a version: wanted unless that is still its version
-- (the caller holds it: the L1 cache revalidating). A part not sent comes back as false.
local versions = { raw.dc, raw.dp, raw.dh, raw.dd }
local function wanted(arg, version)
  return arg == '*' or (arg ~= '-' and arg ~= version)
end
local deviceId, hash, idle = ARGV[6], ARGV[7], tonumber(ARGV[9])
local gen = ARGV[8] ~= '' and tonumber(ARGV[8]) or nil
local verdict, activeAt, authAt, authLevel, persistence, devices = '-', '-', '-', '-', '-', false
if hash ~= '' then
  local stored = redis.call('HGET', DEVICES, deviceId)
  local d = stored and cjson.decode(stored) or nil
  verdict = tokenMatch(d, hash, gen, now, idle)
  if d ~= nil then
    activeAt = int(d.l)
    authAt = int(d.av or d.c)
    authLevel = d.al or '-'
    persistence = (d.ti == nil and d.ta == nil) and 'p' or 't'
  end
end
if ARGV[5] == '*' or hash == '' then devices = redis.call('HGETALL', DEVICES) end
local head = table.concat({ verdict, raw.c, raw.l, raw.i, raw.a, raw.s or '',
  versions[1], versions[2], versions[3], versions[4], activeAt, raw.t or '-', authAt, authLevel, persistence,
  raw.u and ('=' .. raw.u) or '-' }, ' ')
local reply = { head, devices, false, false, false }
if wanted(ARGV[2], versions[1]) then reply[3] = partFields(CART) end
if wanted(ARGV[3], versions[2]) then reply[4] = partFields(PREFS) end
if wanted(ARGV[4], versions[3]) then reply[5] = partFields(HISTORY) end
return reply
`;

/**
 * ARGV: stepMs, horizonMs, origin, hlc, deviceId, deviceJson, then the
 * metadata as field/value pairs.
 * Reply: {'created', keyDeadline} or {'exists'}.
 */
export const CREATE_LUA = String.raw`
if redis.call('EXISTS', META) == 1 then return { 'exists' } end
local step, horizon, origin, stamp, deviceId, deviceJson = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
local m = metaFromFlat(fields)
m.t = maxStamp(m.t, stamp)
emptyVersions(m)
writeEntry(m, 'devices', deviceId, nil, deviceJson)
saveVersions(m)
ensurePartKeys()
writeMeta(m)
appendChange(sessionIdOf(META), stamp, origin, { { 'meta', metaRecordFlat(m) }, { 'devices', { deviceId, deviceJson } } })
local k = settleExpiry(m, step, horizon, { [META] = true, [DEVICES] = true, [CART] = true, [PREFS] = true, [HISTORY] = true })
return { 'created', k }
`;

/**
 * ARGV: now, deviceId, hlc, idleMs, slideAfterMs, stepMs, horizonMs, origin,
 * the address and the country the request came from ('' for none).
 * Reply: {'moved', into} | {0} when nothing was due (or the session is not
 * live) | {1, keyDeadline, deadlineMoved, userId|false}.
 */
export const TOUCH_LUA = String.raw`
local now, deviceId, hlc = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local idle, slideAfter, step, horizon, origin = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local seenIp, seenCountry = ARGV[9] or '', ARGV[10] or ''
local m = readMeta()
if m ~= nil and m.r ~= nil then return { 'moved', m.r } end
if not isLive(m, now) then return { 0 } end
local stamp = stampAbove(hlc, m.t)
local records = {}
local written = {}
if recordActivity(m, deviceId, now, idle, slideAfter, stamp, records, seenIp, seenCountry) then written[DEVICES] = true end
if #records == 0 then return { 0 } end
writeMeta(m)
appendChange(sessionIdOf(META), stamp, origin, records)
local k, moved = settleExpiry(m, step, horizon, written)
return { 1, k, moved and 1 or 0, m.u or false }
`;

/**
 * Joins change records into the session (as `mergeTransition` in
 * `src/store/transition.ts`): metadata first, then every entry through its
 * part's join; an ended session keeps its metadata alone. Without metadata
 * the records are parked in the session's list until it arrives (at most
 * `PARKED_PER_SESSION`, for the horizon); a session merged away answers where
 * to. Records that originate in this region are appended to the feed, one
 * change per stamp; others never are.
 *
 * ARGV: now, stepMs, horizonMs, historyItems, origin (this region), parkedKept,
 * then per record: part, hlc, origin, fieldCount, fields and values (stored
 * encodings).
 * Reply: {'parked'} | {'ignored'} | {'redirect', into} |
 * {status ('merged' | 'created' | 'ignored'), keyDeadline, deadlineMoved,
 * ended, userId|false, createdAt, live, changed parts...}.
 */
export const MERGE_LUA = String.raw`
local now, step, horizon, historyLimit, region, parkedKept =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local records = {}
local i = 7
while i <= #ARGV do
  local count = tonumber(ARGV[i + 3])
  local flat = {}
  for j = 1, count * 2 do flat[j] = ARGV[i + 3 + j] end
  records[#records + 1] = { part = ARGV[i], hlc = ARGV[i + 1], origin = ARGV[i + 2], flat = flat }
  i = i + 4 + count * 2
end

-- Changes made in this region go to the feed, one per stamp (a guest's parts at sign-in).
local function appendLocal()
  local changes, order = {}, {}
  for _, r in ipairs(records) do
    if r.origin == region then
      if changes[r.hlc] == nil then
        changes[r.hlc] = {}
        order[#order + 1] = r.hlc
      end
      table.insert(changes[r.hlc], { r.part, r.flat })
    end
  end
  for _, stamp in ipairs(order) do appendChange(sessionIdOf(META), stamp, region, changes[stamp]) end
end

local m = readMeta()
local status = 'merged'
if m == nil then
  local all = {}
  for _, text in ipairs(redis.call('LRANGE', PARKED, 0, -1)) do
    local p = cjson.decode(text)
    -- Parked until x (the list's own deadline is wall-clock; now is the caller's).
    if p.x > now then
      -- cjson reads an empty list as an object; either way it has no entries.
      all[#all + 1] = { part = p.p, hlc = p.h, origin = p.o, flat = (#p.f > 0) and p.f or {} }
    end
  end
  local parkedCount = #all
  for _, r in ipairs(records) do all[#all + 1] = r end
  for _, r in ipairs(all) do
    if r.part == 'meta' then
      local meta = metaFromFlat(r.flat)
      if m == nil then m = meta else mergeMeta(m, meta) end
    end
  end
  appendLocal()
  if m == nil then
    for _, r in ipairs(records) do
      redis.call('RPUSH', PARKED, cjson.encode({ p = r.part, h = r.hlc, o = r.origin, f = r.flat, x = now + horizon }))
    end
    redis.call('LTRIM', PARKED, -parkedKept, -1)
    redis.call('PEXPIREAT', PARKED, now + horizon)
    return { 'parked' }
  end
  if forgetAt(m, horizon) <= now then
    redis.call('DEL', PARKED)
    return { 'ignored' }
  end
  if parkedCount > 0 then redis.call('DEL', PARKED) end
  records = all
  emptyVersions(m)
  ensurePartKeys()
  status = 'created'
else
  if m.r ~= nil then return { 'redirect', m.r } end
  appendLocal()
end

local before = {}
for _, part in ipairs(DATA_PARTS) do before[part] = versionOf(m, part) end
local wasEnded = status ~= 'created' and m.e ~= nil
for _, r in ipairs(records) do
  if r.part == 'meta' then mergeMeta(m, metaFromFlat(r.flat)) end
  m.t = maxStamp(m.t, r.hlc)
end

local written = { [META] = true, [CART] = true, [PREFS] = true, [HISTORY] = true, [DEVICES] = true }
if m.e == nil then
  for _, r in ipairs(records) do
    if r.part ~= 'meta' then
      local changed = false
      for j = 1, #r.flat, 2 do
        if joinEntry(m, r.part, r.flat[j], r.flat[j + 1]) then changed = true end
      end
      if r.part == 'history' and changed then
        trimHistory(historyLimit, function(id, text) moveVersion(m, 'history', id, text, nil) end)
      end
    end
  end
  saveVersions(m)
else
  redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
  emptyVersions(m)
end
writeMeta(m)
local k, moved = settleExpiry(m, step, horizon, written)
local reply = { (wasEnded and 'ignored') or status, k, moved and 1 or 0, m.e ~= nil and 1 or 0, m.u or false, int(m.c), isLive(m, now) and 1 or 0 }
for _, part in ipairs(DATA_PARTS) do
  if m[VERSION_FIELD[part]] ~= before[part] then reply[#reply + 1] = part end
end
return reply
`;

/** Computes and stores the versions of a session written before versions were digests. */
export const MIGRATE_LUA = String.raw`
local m = readMeta()
if m == nil or m.dd ~= nil then return 0 end
for _, part in ipairs(DATA_PARTS) do m[VERSION_FIELD[part]] = versionOf(m, part) end
writeMeta(m)
return 1
`;

/**
 * Everything stored of a session, whatever its state.
 * Reply: false | {meta, devices, cart, prefs, history} (flat lists; meta with
 * every field, versions computed where a session predates them).
 */
export const SNAPSHOT_LUA = String.raw`
local m = readMeta()
if m == nil then return false end
for _, part in ipairs(DATA_PARTS) do m[VERSION_FIELD[part]] = versionOf(m, part) end
return { metaToFlat(m), partFields(DEVICES), partFields(CART), partFields(PREFS), partFields(HISTORY) }
`;

/**
 * What a session's digest is made of: its metadata with every part's version
 * (computed where a session predates them), and no part. What the repair
 * between regions reads of every session.
 * Reply: false | meta (a flat list).
 */
export const DIGEST_LUA = String.raw`
local m = readMeta()
if m == nil then return false end
for _, part in ipairs(DATA_PARTS) do m[VERSION_FIELD[part]] = versionOf(m, part) end
return metaToFlat(m)
`;

/**
 * The second step of merging a session away (see `RedisStore.#mergeAway`):
 * marks it merged into ARGV[1] — from now on its loads, writes and records go
 * there — with the merge not yet finished (`w`), and returns its parts as
 * they are now, as SNAPSHOT does. Its parts stay until WIPE_MERGED.
 */
export const MARK_MERGED_LUA = String.raw`
local m = readMeta()
if m == nil then return false end
if m.r == nil then
  m.r = ARGV[1]
  m.w = '1'
  writeMeta(m)
end
for _, part in ipairs(DATA_PARTS) do m[VERSION_FIELD[part]] = versionOf(m, part) end
return { metaToFlat(m), partFields(DEVICES), partFields(CART), partFields(PREFS), partFields(HISTORY) }
`;

/** The last step: the parts of a session merged away are in the other one; drop them. ARGV: stepMs, horizonMs. */
export const WIPE_MERGED_LUA = String.raw`
local m = readMeta()
if m == nil or m.r == nil then return 0 end
redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
redis.call('HDEL', META, 'w')
m.w = nil
emptyVersions(m)
writeMeta(m)
settleExpiry(m, tonumber(ARGV[1]), tonumber(ARGV[2]), {})
return 1
`;

/**
 * Erases a session (as `erasedSession` in `src/store/transition.ts`): its
 * devices, parts and parked records go; its metadata stays as a tombstone
 * without user id or secret, ended and erased, and goes to the feed (stamped
 * `stamp`) so that every region erases it too. ARGV: now, stepMs, horizonMs,
 * stamp, origin. KEYS: the session's, its parked records, then its feed
 * shard's when the feed is on. Reply: 1, or 0 when nothing was stored.
 */
export const ERASE_LUA = String.raw`
local now, step, horizon, stamp, origin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
redis.call('DEL', PARKED)
local m = readMeta()
if m == nil then return 0 end
redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
redis.call('HDEL', META, 'u', 'w')
m.u, m.w = nil, nil
m.s = ''
if m.e == nil then m.e = now end
if m.x == nil then m.x = now end
m.t = maxStamp(m.t, stamp)
emptyVersions(m)
writeMeta(m)
settleExpiry(m, step, horizon, {})
appendChange(sessionIdOf(META), stamp, origin, { { 'meta', metaRecordFlat(m) } })
return 1
`;

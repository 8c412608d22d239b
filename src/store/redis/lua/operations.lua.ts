/**
 * The apply script: the Lua twin of `transition()` in `src/store/transition.ts`
 * and `applyOperation()` in `src/domain/operations.ts`, in one atomic step:
 * redirect → session live → caller's token accepted → If-Match version → the
 * operation → join of its change records → the acting device's activity →
 * the feed → key expiry. It is the only Lua twin of the operations; joins go
 * through `joins.lua.ts`.
 *
 * ARGV: now, hlc, idleMs, slideAfterMs, stepMs, horizonMs, origin, cartLines,
 * maxQuantity, prefsBytes, historyItems, devices, callerKind ('admin' |
 * 'device'), callerDeviceId, tokenHash, gen ('' for none), ifVersion ('' for
 * none), knownVersion ('' for none), the address and country the request came
 * from ('' for none), operation kind, then the operation's arguments (see
 * `operationArguments` in `../redis-store.ts`).
 *
 * Reply: {'moved', into, csrfSecret} | {'not-found'} | {'unauthorized'} |
 * {'version-mismatch', version} | {'rejected', code, detail} |
 * {'applied', head, devices, part, records}. head is one line of
 * space-separated fields, as the load reply's (`LOAD_LUA`): the keys'
 * deadline, 1 when it moved (else 0), the change's stamp, then the metadata as
 * written — c, l, i, a, s, the versions dc, dp, dh and dd, e, x, t and r ('-'
 * for each one absent) — and last the user id after '=' ('-' for a guest),
 * which may hold any character. devices and part are flat field/value lists
 * and records a list of {part, flat field/value list}. devices holds every device for an
 * operation on devices, else the caller's alone; part is false when the caller
 * knew the version the change started from (it joins the records into its
 * copy). A rejected operation writes nothing.
 *
 * OPERATIONS_LUA is part of the library (`../scripts.ts`): it defines `apply`,
 * and the operations' functions once, at load. APPLY_LUA, the body of the
 * function that FCALL runs, only calls it.
 */
export const OPERATIONS_LUA = String.raw`
-- The operations and the transition are made once, when the library loads;
-- apply runs them for one call. Their per-call state lives in this block alone.
local apply
do
  -- What the operations read of the call: bound by apply at the start of each call.
  local now, origin, kind
  local limits = {}
  -- The first of the operation's own arguments.
  local ARG = 22

  local PART_OF = {
    ['cart.add'] = 'cart', ['cart.set'] = 'cart', ['cart.remove'] = 'cart', ['cart.clear'] = 'cart',
    ['prefs.patch'] = 'prefs', ['history.add'] = 'history',
    ['device.add'] = 'devices', ['device.rotate'] = 'devices', ['device.revoke'] = 'devices', ['session.end'] = 'devices',
  }

  local function reject(code, detail)
    return { rejected = { 'rejected', code, detail } }
  end

  local function readDevices()
    local devices = {}
    local flat = redis.call('HGETALL', DEVICES)
    for i = 1, #flat, 2 do devices[flat[i]] = decodeDevice(flat[i + 1]) end
    return devices
  end

  -- Each operation returns { records = { {part, flat}... }, written = { [key] = true } }
  -- or a rejection, and writes only when it does not reject.
  local operations = {}

  local function cartLine(m, stamp)
    local sku, quantity, attributes = ARGV[ARG], tonumber(ARGV[ARG + 1]), ARGV[ARG + 2]
    local stored = redis.call('HGET', CART, sku) or nil
    local line = stored and decodeLine(stored) or nil
    local before = quantityOf(line)
    if kind == 'cart.remove' and line == nil then return { records = {}, written = {} } end
    local target = 0
    if kind == 'cart.add' then target = before + quantity elseif kind == 'cart.set' then target = quantity end
    if target > limits.maxQuantity then
      return reject('validation-failed', 'quantity of "' .. sku .. '" would be ' .. int(target)
        .. ', above the limit of ' .. int(limits.maxQuantity))
    end
    -- HLEN counts tombstoned lines and the placeholder: only a cart that may be full needs counting.
    if before == 0 and target > 0 and redis.call('HLEN', CART) > limits.cartLines then
      local live = 0
      local lines = partFields(CART)
      for i = 2, #lines, 2 do
        if quantityOf(decodeLine(lines[i])) > 0 then live = live + 1 end
      end
      if live >= limits.cartLines then
        return reject('payload-too-large', 'the cart already holds ' .. int(limits.cartLines) .. ' lines, the limit')
      end
    end
    local nextLine = setLineQuantity(line, origin, target, now)
    if line ~= nil and before == 0 and target > 0 then nextLine.at = math.min(nextLine.at, now) end
    if kind ~= 'cart.remove' and attributes ~= '' then
      nextLine.a, nextLine.t = attributes, stamp
    end
    local merged = line and mergeLine(line, nextLine) or nextLine
    writeEntry(m, 'cart', sku, stored, encodeLine(merged))
    return { records = { { 'cart', { sku, encodeLine(nextLine) } } }, written = { [CART] = true } }
  end
  operations['cart.add'] = cartLine
  operations['cart.set'] = cartLine
  operations['cart.remove'] = cartLine

  operations['cart.clear'] = function(m, stamp)
    local flat = partFields(CART)
    local record = {}
    for i = 1, #flat, 2 do
      local line = decodeLine(flat[i + 1])
      if quantityOf(line) > 0 then
        local nextLine = setLineQuantity(line, origin, 0, now)
        record[#record + 1] = flat[i]
        record[#record + 1] = encodeLine(nextLine)
        writeEntry(m, 'cart', flat[i], flat[i + 1], encodeLine(mergeLine(line, nextLine)))
      end
    end
    if #record == 0 then return { records = {}, written = {} } end
    return { records = { { 'cart', record } }, written = { [CART] = true } }
  end

  operations['prefs.patch'] = function(m, stamp)
    local registers = readRegisters()
    local record, writes = {}, {}
    for i = ARG, #ARGV, 2 do
      local key, patch = ARGV[i], ARGV[i + 1]
      local current = registers[key] and registers[key].v or nil
      if current == 'null' then current = nil end
      local value = patch == 'null' and 'null' or mergePatchText(current, patch)
      local delta = { t = stamp, v = value }
      record[#record + 1] = key
      record[#record + 1] = encodeRegister(delta)
      writes[key] = registers[key] and encodeRegister(registers[key]) or false
      registers[key] = registers[key] and mergeRegister(registers[key], delta) or delta
    end
    local size = prefsBytes(registers)
    if size > limits.prefsBytes then
      return reject('payload-too-large', 'preferences would take ' .. int(size)
        .. ' bytes, above the limit of ' .. int(limits.prefsBytes))
    end
    for key, old in pairs(writes) do writeEntry(m, 'prefs', key, old or nil, encodeRegister(registers[key])) end
    return { records = { { 'prefs', record } }, written = { [PREFS] = true } }
  end

  operations['history.add'] = function(m, stamp)
    local productId, viewedAt = ARGV[ARG], tonumber(ARGV[ARG + 1])
    joinValue(m, 'history', productId, viewedAt)
    trimHistory(limits.historyItems, function(id, text) moveVersion(m, 'history', id, text, nil) end)
    return { records = { { 'history', { productId, int(viewedAt) } } }, written = { [HISTORY] = true } }
  end

  -- The changed device as its record entry, joined into the stored one.
  local function putDevice(m, id, changed, record)
    record[#record + 1] = id
    record[#record + 1] = encodeDevice(copyDevice(changed))
    joinValue(m, 'devices', id, changed)
  end

  -- As device.add in deviceOperation(): at the limit, refuse — or end the least
  -- recently active devices, as many as make room (ARGV: id, device, 'refuse' | 'end-least-recent').
  operations['device.add'] = function(m, stamp)
    local id, device, atLimit = ARGV[ARG], decodeDevice(ARGV[ARG + 1]), ARGV[ARG + 2]
    local devices = readDevices()
    local live = 0
    for _, d in pairs(devices) do
      if d.x == nil then live = live + 1 end
    end
    local ended = {}
    if live >= limits.devices then
      if atLimit ~= 'end-least-recent' then
        return reject('payload-too-large', 'the session already has ' .. int(limits.devices) .. ' signed-in devices, the limit')
      end
      ended = leastRecentlyActive(devices, live - limits.devices + 1)
    end
    device.t = stamp
    local record = {}
    for _, endedId in ipairs(ended) do
      local revoked = copyDevice(devices[endedId])
      revoked.x = now
      revoked.rf = 'limit'
      putDevice(m, endedId, revoked, record)
    end
    putDevice(m, id, device, record)
    return { records = { { 'devices', record } }, written = { [DEVICES] = true } }
  end

  local function deviceChange(m, stamp)
    local id = ARGV[ARG]
    local stored = redis.call('HGET', DEVICES, id)
    local device = stored and decodeDevice(stored) or nil
    if device == nil or device.x ~= nil then
      return reject('not-found', 'no device "' .. id .. '" in this session')
    end
    local changed
    if kind == 'device.rotate' then
      local level = ARGV[ARG + 4]
      changed = rotateDevice(device, ARGV[ARG + 1], now, tonumber(ARGV[ARG + 2]), stamp, ARGV[ARG + 3] == '1', level ~= '' and level or nil)
    else
      changed = copyDevice(device)
      changed.x = now
      if ARGV[ARG + 1] ~= '' then changed.rf = ARGV[ARG + 1] end
    end
    local record = {}
    putDevice(m, id, changed, record)
    return { records = { { 'devices', record } }, written = { [DEVICES] = true } }
  end
  operations['device.rotate'] = deviceChange
  operations['device.revoke'] = deviceChange

  -- Logout everywhere: every live device revoked and the session ended; the
  -- metadata stays as the tombstone, the parts go (emptied below).
  operations['session.end'] = function(m, stamp)
    local record = {}
    local reason = ARGV[ARG]
    for id, d in pairs(readDevices()) do
      if d.x == nil then
        local revoked = copyDevice(d)
        revoked.x = now
        if reason ~= '' then revoked.rf = reason end
        putDevice(m, id, revoked, record)
      end
    end
    local ended = {}
    for field, value in pairs(m) do ended[field] = value end
    if ended.e == nil then ended.e = now end
    -- An ended session keeps no secret (the join would drop it anyway).
    ended.s = ''
    local endRecord = metaRecordFlat(ended)
    mergeMeta(m, ended)
    return { records = { { 'devices', record }, { 'meta', endRecord } }, written = {} }
  end


  -- The transition -------------------------------------------------------------

  apply = function()
    now, origin, kind = tonumber(ARGV[1]), ARGV[7], ARGV[21]
    limits.cartLines, limits.maxQuantity, limits.prefsBytes = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
    limits.historyItems, limits.devices = tonumber(ARGV[11]), tonumber(ARGV[12])
    local hlc = ARGV[2]
    local idle, slideAfter, step, horizon = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
    local callerKind, callerDevice, tokenHash = ARGV[13], ARGV[14], ARGV[15]
    local gen = ARGV[16] ~= '' and tonumber(ARGV[16]) or nil
    local ifVersion, knownVersion = ARGV[17], ARGV[18]
    local seenIp, seenCountry = ARGV[19], ARGV[20]

    local m = readMeta()
    if m ~= nil and m.r ~= nil then return { 'moved', m.r, m.s or '' } end
    if not isLive(m, now) then return { 'not-found' } end
    -- The caller's device as stored, read once for the token check and its activity.
    local caller = nil
    if callerKind ~= 'admin' then
      local stored = redis.call('HGET', DEVICES, callerDevice)
      caller = stored and decodeDevice(stored) or nil
      local verdict = caller and tokenMatch(caller, tokenHash, gen, now, idle) or 'none'
      if verdict ~= 'current' and verdict ~= 'grace' then return { 'unauthorized' } end
      if kind == 'device.rotate' and verdict == 'grace' then
        -- Two rotations of one device at once: the first won; the one still holding the token it replaced does not rotate again.
        return { 'rejected', 'conflict', 'the token was rotated by a concurrent request; use the token it returned' }
      end
    end
    local part = PART_OF[kind]
    if part == nil then error('unknown operation ' .. tostring(kind)) end
    local version = versionOf(m, part)
    if ifVersion ~= '' and ifVersion ~= version then return { 'version-mismatch', version } end

    local stamp = stampAbove(hlc, m.t)
    local outcome = operations[kind](m, stamp)
    if outcome.rejected ~= nil then return outcome.rejected end
    local records = outcome.records
    if #records > 0 then m.t = maxStamp(m.t, stamp) end

    local written = outcome.written
    if m.e ~= nil then
      redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
      emptyVersions(m)
    else
      saveVersions(m)
      -- The device that acted: the caller, or the device signing in.
      local actor = nil
      if callerKind == 'device' then actor = callerDevice elseif kind == 'device.add' then actor = ARGV[ARG] end
      -- An operation on devices may have changed the caller's: read again.
      local known = (actor == callerDevice and part ~= 'devices') and caller or nil
      if actor ~= nil and recordActivity(m, actor, now, idle, slideAfter, stamp, records, seenIp, seenCountry, known) then written[DEVICES] = true end
    end
    writeMeta(m)
    appendChange(sessionIdOf(META), stamp, origin, records)

    local devices
    if m.e ~= nil then
      devices = {}
    elseif part == 'devices' or callerKind == 'admin' then
      devices = redis.call('HGETALL', DEVICES)
    else
      devices = { callerDevice, redis.call('HGET', DEVICES, callerDevice) }
    end
    -- false: the caller holds the part at the version this change started from, and joins the records itself.
    local partFlat = {}
    if part ~= 'devices' then
      if knownVersion == version or m.e ~= nil then partFlat = false else partFlat = partFields(PART_KEY[part]) end
    end
    local k, moved = settleExpiry(m, step, horizon, written)
    return { 'applied', writtenMetaHead(k, moved, stamp), devices, partFlat, records }
  end
end
`;

/**
 * Activity (as `recordActivity` in `src/store/transition.ts`), shared by the
 * apply and touch scripts: when `slideAfter` has passed since the device (or
 * the session) was last recorded active, slide the deadline, move the
 * device's `lastActiveAt` (and where it was seen, when the caller said:
 * seenIp, seenCountry, '' for none), and add the activity records. True when
 * the device was written. `known` is the device as stored, when the caller has
 * already read it in this call (nil: read here).
 */
export const ACTIVITY_LUA = String.raw`
-- A meta record's fields: the metadata alone (no versions, no bookkeeping).
local META_RECORD_FIELDS = { 'c', 'l', 'i', 'a', 's', 'u', 'e', 'x', 'r', 't' }
local function metaRecordFlat(m)
  local flat = {}
  for _, field in ipairs(META_RECORD_FIELDS) do
    local value = m[field]
    if value ~= nil then
      flat[#flat + 1] = field
      flat[#flat + 1] = type(value) == 'number' and int(value) or value
    end
  end
  return flat
end

local function recordActivity(m, deviceId, now, idle, slideAfter, stamp, records, seenIp, seenCountry, known)
  local d = known
  if d == nil then
    local stored = redis.call('HGET', DEVICES, deviceId)
    if not stored then return false end
    d = decodeDevice(stored)
  end
  if d.x ~= nil then return false end
  local deviceDue = now - d.l >= slideAfter
  if not deviceDue and now - m.l < slideAfter then return false end
  m.t = maxStamp(m.t, stamp)
  slide(m, now, idle)
  records[#records + 1] = { 'meta', metaRecordFlat(m) }
  if not deviceDue then return false end
  local text = encodeDevice(activeDevice(d, now, seenIp, seenCountry))
  -- lastActiveAt is not part of a device's version: no version moves.
  redis.call('HSET', DEVICES, deviceId, text)
  records[#records + 1] = { 'devices', { deviceId, text } }
  return true
end
`;

/** The apply script's body (ARGV as above). */
export const APPLY_LUA = String.raw`
return apply()
`;

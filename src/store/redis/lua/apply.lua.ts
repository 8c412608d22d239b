/**
 * The apply script: the Lua twin of `transition()` in `src/store/transition.ts`
 * and `applyOperation()` in `src/domain/operations.ts`, in one atomic step:
 * session live → caller's token accepted → If-Match version → the operation →
 * join of its change records → version bump → sliding → key expiry.
 *
 * ARGV: now, hlc, idleMs, stepMs, origin, cartLines, maxQuantity, prefsBytes,
 * historyItems, devices, callerKind ('admin' | 'device'), callerDeviceId,
 * tokenHash, ifVersion ('' for none), knownVersion ('' for none), operation
 * kind, then the operation's arguments (see `operationArguments` in
 * `../redis-store.ts`).
 *
 * Reply: {'not-found'} | {'unauthorized'} | {'version-mismatch', version} |
 * {'rejected', code, detail} | {'applied', meta, devices, part, records,
 * keyDeadline, deadlineMoved} where meta, devices and part are flat
 * field/value lists and records a list of {part, flat field/value list}.
 * devices holds every device for an operation on devices, else the caller's
 * alone; part is false when the caller knew the version the change started
 * from (it joins the records into its copy). A rejected operation writes nothing.
 */
export const APPLY_LUA = String.raw`
local now, hlc = tonumber(ARGV[1]), ARGV[2]
local idle, step, origin = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local limits = {
  cartLines = tonumber(ARGV[6]), maxQuantity = tonumber(ARGV[7]), prefsBytes = tonumber(ARGV[8]),
  historyItems = tonumber(ARGV[9]), devices = tonumber(ARGV[10]),
}
local callerKind, callerDevice, tokenHash, ifVersion, knownVersion, kind = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local ARG = 17

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

local function cartLine(m)
  local sku, quantity, attributes = ARGV[ARG], tonumber(ARGV[ARG + 1]), ARGV[ARG + 2]
  local stored = redis.call('HGET', CART, sku)
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
    nextLine.a, nextLine.t = attributes, hlc
  end
  local merged = line and mergeLine(line, nextLine) or nextLine
  redis.call('HSET', CART, sku, encodeLine(merged))
  return { records = { { 'cart', { sku, encodeLine(nextLine) } } }, written = { [CART] = true } }
end
operations['cart.add'] = cartLine
operations['cart.set'] = cartLine
operations['cart.remove'] = cartLine

operations['cart.clear'] = function(m)
  local flat = partFields(CART)
  local record, writes = {}, {}
  for i = 1, #flat, 2 do
    local line = decodeLine(flat[i + 1])
    if quantityOf(line) > 0 then
      local nextLine = setLineQuantity(line, origin, 0, now)
      record[#record + 1] = flat[i]
      record[#record + 1] = encodeLine(nextLine)
      writes[flat[i]] = encodeLine(mergeLine(line, nextLine))
    end
  end
  if #record == 0 then return { records = {}, written = {} } end
  hsetMap(CART, writes)
  return { records = { { 'cart', record } }, written = { [CART] = true } }
end

operations['prefs.patch'] = function(m)
  local registers = readRegisters()
  local record, writes = {}, {}
  for i = ARG, #ARGV, 2 do
    local key, patch = ARGV[i], ARGV[i + 1]
    local current = registers[key] and registers[key].v or nil
    if current == 'null' then current = nil end
    local value = patch == 'null' and 'null' or mergePatchText(current, patch)
    local delta = { t = hlc, v = value }
    record[#record + 1] = key
    record[#record + 1] = encodeRegister(delta)
    local merged = registers[key] and mergeRegister(registers[key], delta) or delta
    registers[key] = merged
    writes[key] = encodeRegister(merged)
  end
  local size = prefsBytes(registers)
  if size > limits.prefsBytes then
    return reject('payload-too-large', 'preferences would take ' .. int(size)
      .. ' bytes, above the limit of ' .. int(limits.prefsBytes))
  end
  hsetMap(PREFS, writes)
  return { records = { { 'prefs', record } }, written = { [PREFS] = true } }
end

operations['history.add'] = function(m)
  local productId, viewedAt = ARGV[ARG], tonumber(ARGV[ARG + 1])
  local stored = redis.call('HGET', HISTORY, productId)
  local merged = stored and math.max(tonumber(stored), viewedAt) or viewedAt
  redis.call('HSET', HISTORY, productId, int(merged))
  trimHistory(limits.historyItems)
  return { records = { { 'history', { productId, int(viewedAt) } } }, written = { [HISTORY] = true } }
end

local function putDevice(id, changed, record)
  local stored = redis.call('HGET', DEVICES, id)
  local merged = stored and mergeDevice(decodeDevice(stored), changed) or changed
  record[#record + 1] = id
  record[#record + 1] = encodeDevice(copyDevice(changed))
  redis.call('HSET', DEVICES, id, encodeDevice(merged))
end

operations['device.add'] = function(m)
  local id, device = ARGV[ARG], decodeDevice(ARGV[ARG + 1])
  local live = 0
  for _, d in pairs(readDevices()) do
    if d.x == nil then live = live + 1 end
  end
  if live >= limits.devices then
    return reject('payload-too-large', 'the session already has ' .. int(limits.devices) .. ' signed-in devices, the limit')
  end
  local record = {}
  putDevice(id, device, record)
  return { records = { { 'devices', record } }, written = { [DEVICES] = true } }
end

-- As rotateDevice(): generation + 1, the old hash kept for the grace window,
-- older ones remembered (newest first, at most 4) to recognise reuse.
local function rotate(d, hash, graceMs)
  local rotated = copyDevice(d)
  local retired = {}
  if d.p ~= nil then retired[1] = d.p end
  for _, h in ipairs(d.r or {}) do
    if #retired < 4 then retired[#retired + 1] = h end
  end
  rotated.r = retired
  rotated.g = d.g + 1
  rotated.h = hash
  rotated.p = d.h
  rotated.u = now + graceMs
  rotated.l = math.max(d.l, now)
  rotated.t = hlc
  return rotated
end

local function deviceChange(m)
  local id = ARGV[ARG]
  local stored = redis.call('HGET', DEVICES, id)
  local device = stored and decodeDevice(stored) or nil
  if device == nil or device.x ~= nil then
    return reject('not-found', 'no device "' .. id .. '" in this session')
  end
  local changed
  if kind == 'device.rotate' then
    changed = rotate(device, ARGV[ARG + 1], tonumber(ARGV[ARG + 2]))
  else
    changed = copyDevice(device)
    changed.x = now
  end
  local record = {}
  putDevice(id, changed, record)
  return { records = { { 'devices', record } }, written = { [DEVICES] = true } }
end
operations['device.rotate'] = deviceChange
operations['device.revoke'] = deviceChange

-- Logout everywhere: every live device revoked and the session ended. Its
-- data keys go at once; the metadata stays as the tombstone until its deadline.
operations['session.end'] = function(m)
  local record = {}
  for id, d in pairs(readDevices()) do
    if d.x == nil then
      local revoked = copyDevice(d)
      revoked.x = now
      putDevice(id, revoked, record)
    end
  end
  local ended = {}
  for field, value in pairs(m) do ended[field] = value end
  if ended.e == nil then ended.e = now end
  mergeMeta(m, ended)
  return { records = { { 'devices', record }, { 'meta', metaToFlat(ended) } }, written = {} }
end

-- The transition -------------------------------------------------------------

local m = readMeta()
if not isLive(m, now) then return { 'not-found' } end
if callerKind ~= 'admin' then
  local stored = redis.call('HGET', DEVICES, callerDevice)
  if stored == false or not tokenAccepted(decodeDevice(stored), tokenHash, now) then return { 'unauthorized' } end
end
local part = PART_OF[kind]
if part == nil then error('unknown operation ' .. tostring(kind)) end
local version = versionOf(m, part)
if ifVersion ~= '' and ifVersion ~= version then return { 'version-mismatch', version } end

local outcome = operations[kind](m)
if outcome.rejected ~= nil then return outcome.rejected end

slide(m, now, idle)
local versionField = VERSION_FIELD[part]
m[versionField] = m[versionField] + 1
local metaWrites = { l = int(m.l), i = int(m.i), [versionField] = int(m[versionField]) }
if m.e ~= nil then metaWrites.e = int(m.e) end
hsetMap(META, metaWrites)

local devices
if part == 'devices' or callerKind == 'admin' then
  devices = redis.call('HGETALL', DEVICES)
else
  devices = { callerDevice, redis.call('HGET', DEVICES, callerDevice) }
end
-- false: the caller holds the part at the version this change started from, and joins the records itself.
local partFlat = {}
if part ~= 'devices' then
  if knownVersion == version then partFlat = false else partFlat = partFields(PART_KEY[part]) end
end
if m.e ~= nil then
  redis.call('DEL', DEVICES, CART, PREFS, HISTORY)
end
local k, moved = settleExpiry(m, step, outcome.written)
return { 'applied', metaToFlat(m), devices, partFlat, outcome.records, k, moved and 1 or 0 }
`;

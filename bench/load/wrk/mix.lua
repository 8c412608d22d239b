-- Closed-loop request mix for wrk: cycles through requests pre-sampled by the
-- bench runner (same generator as the open-loop workers), one per line:
--   METHOD \t PATH \t BODY \t header \t value [\t header \t value ...]
-- Usage: wrk -s mix.lua <url> -- <request-file> <start-offset>
local requests = {}
local count = 0
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local f = {}
    for field in (line .. "\t"):gmatch("(.-)\t") do f[#f + 1] = field end
    local headers = {}
    for i = 4, #f - 1, 2 do headers[f[i]] = f[i + 1] end
    local body = f[3]
    if body == "" then body = nil end
    count = count + 1
    requests[count] = wrk.format(f[1], f[2], headers, body)
  end
  -- Each thread starts at a different place in the sequence.
  index = (tonumber(args[2]) or 0) + math.random(0, count - 1)
end

function request()
  index = index % count + 1
  return requests[index]
end

-- Closed-loop sign-ins for wrk: every request creates a session for a new user.
-- Usage: wrk -s login.lua <url> -- <api-key> <user-id-prefix>
local prefix = "wrk"
local headers = {}
local counter = 0
local thread_tag = ""
local devices = {
  '{"name":"iPhone 15","kind":"mobile","userAgent":"ShopApp/8.14.2 (iPhone16,2; iOS 18.1)","ip":"203.0.113.24"}',
  '{"name":"Chrome on Windows","kind":"desktop","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0","ip":"192.0.2.14"}',
}

function init(args)
  headers["authorization"] = "Bearer " .. args[1]
  headers["content-type"] = "application/json"
  prefix = args[2]
  thread_tag = tostring(math.random(0, 2147483647))
end

function request()
  counter = counter + 1
  local body = '{"userId":"' .. prefix .. "-" .. thread_tag .. "-" .. counter .. '","device":' .. devices[counter % 2 + 1] .. "}"
  return wrk.format("POST", "/v1/sessions", headers, body)
end

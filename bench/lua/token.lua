-- Token POST (authorization_code grant) with HTTP Basic client auth; a fresh code per request,
-- the client cycling over N orgs' client ids (cli_%08dm2mAbCdEf, as bench/fixtures.py generates).
-- With a third argument "tokens" (the token_exchange kind), nginx answers with JSON tokens
-- (bench/upstream.py) instead of "ok".
-- args: host n_orgs [tokens]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
local host, n_orgs, i, answer
local auths = {}

-- base64 (wrk's LuaJIT has no library for it)
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function enc(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for k = 8, 1, -1 do r = r .. (b % 2 ^ k - b % 2 ^ (k - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for k = 1, 6 do c = c + (x:sub(k, k) == '1' and 2 ^ (6 - k) or 0) end
    return b64:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end

function init(args)
  host = args[1] or "auth.yourapp.com"
  n_orgs = tonumber(args[2]) or 1000
  answer = args[3]
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  for k = 0, math.min(n_orgs, 256) - 1 do
    auths[k] = "Basic " .. enc(string.format("cli_%08dm2mAbCdEf", k) .. ":" .. token(48))
  end
  i = math.random(0, math.min(n_orgs, 256) - 1)
end

function request()
  i = (i + 1) % math.min(n_orgs, 256)
  local body = "grant_type=authorization_code&code=" .. token(40) ..
    "&redirect_uri=https%3A%2F%2Fapp.yourapp.com%2Fauth%2Fcallback"
  local headers = {
    ["Host"] = host,
    ["Authorization"] = auths[i],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["User-Agent"] = "node-fetch/1.0",
  }
  if answer then headers["X-Bench-Answer"] = answer end
  return wrk.format("POST", "/oauth/token", headers, body)
end

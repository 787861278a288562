-- Hosted-login page GET (Auth0 Universal Login: /u/login?state=...), cycling over the states the
-- router learnt before the run (bench/upstream.py seed_hosted_states); nginx answers ~250 KB of HTML.
-- args: host states_file
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
local states, i = {}, 0
local headers = {}

function init(args)
  headers["Host"] = args[1] or "auth.yourapp.com"
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
  headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
  headers["Accept-Language"] = "en-US,en;q=0.9"
  for line in assert(io.open(args[2], "r")):lines() do
    if #line > 0 then states[#states + 1] = line end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  i = math.random(0, #states - 1)
end

function request()
  i = (i + 1) % #states
  return wrk.format("GET", "/u/login?state=" .. states[i + 1], headers)
end

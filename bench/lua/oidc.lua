-- OIDC authorize GET (~400-byte query, PKCE), a fresh state/nonce per request; login_hint cycles over N orgs.
-- args: host n_orgs
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
local host, n_orgs, i
local headers = {}

function init(args)
  host = args[1] or "auth.yourapp.com"
  n_orgs = tonumber(args[2]) or 1000
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  i = math.random(0, n_orgs - 1)
  headers["Host"] = host
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
  headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
  headers["Accept-Language"] = "en-US,en;q=0.9"
end

function request()
  i = (i + 1) % n_orgs
  local path = "/authorize?response_type=code&client_id=AbCdEfGhIjKlMnOpQrStUvWxYz012345" ..
    "&redirect_uri=https%3A%2F%2Fapp.yourapp.com%2Fauth%2Fcallback&scope=openid%20profile%20email%20offline_access" ..
    "&state=" .. token(43) .. "&nonce=" .. token(43) ..
    "&login_hint=jane.doe" .. i .. "%40org" .. i .. ".example" ..
    "&code_challenge=" .. token(43) .. "&code_challenge_method=S256&response_mode=query&prompt=login"
  return wrk.format("GET", path, headers)
end

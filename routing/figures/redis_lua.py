"""The Lua scripts ``routing.figures.redis`` runs (each one atomic on the primary): the last
failure per org, claiming expired departures, flip observation, the departures cap, the lock."""

LAST = """
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or tonumber(cur) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  end
end
return 1
"""
EXPIRE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(due) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local raw = redis.call('HGET', KEYS[2], id)
    redis.call('HDEL', KEYS[2], id)
    if raw then
      local d = cjson.decode(raw)
      local back = false
      for _, k in ipairs(d.k) do
        if redis.call('EXISTS', ARGV[1] .. 'ret:' .. k) == 1 then back = true break end
      end
      if not back then
        for i = 4, #ARGV, 2 do
          local w = tonumber(ARGV[i])
          local key = ARGV[1] .. 'fate:' .. w .. ':' .. string.format('%d', math.floor(d.a / w)) .. ':' .. d.o
          redis.call('HINCRBY', key, d.p .. '|lost', 1)
          redis.call('EXPIRE', key, tonumber(ARGV[i + 1]))
        end
        redis.call('ZADD', KEYS[3], 'GT', d.a, d.o)
        out[#out + 1] = raw
      end
    end
  end
end
return out
"""
FLIPS = """
local out = {}
for i = 3, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local m = ARGV[i + 1]
  if ((not cur) and m == '1') or (cur and string.sub(cur, 1, 1) ~= m) then
    cur = m .. ' ' .. ARGV[2]
    redis.call('HSET', KEYS[1], ARGV[i], cur)
    redis.call('DEL', ARGV[1] .. 'since:' .. ARGV[i])
  end
  out[#out + 1] = cur or ''
end
return out
"""
TRIM = """
local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if n <= 0 then return 0 end
local ids = redis.call('ZRANGE', KEYS[1], 0, n - 1)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
for i = 1, #ids, 1000 do redis.call('HDEL', KEYS[2], unpack(ids, i, math.min(i + 999, #ids))) end
return n
"""
ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""  # SET NX PX, and its owner may renew it
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

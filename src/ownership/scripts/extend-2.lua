--[[
  Renew a stream lock, only if it still carries our fencing token.

  KEYS[1] lock key
  KEYS[2] meta key

  ARGV[1] token (`<fence>|<owner>`)
  ARGV[2] lock TTL in ms

  Result: 1 renewed, 0 refused (the lock expired or belongs to a newer owner)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], 'exp', now + tonumber(ARGV[2]))
return 1

--[[
  Release a stream lock for a hand-off (graceful shutdown), only if it carries our token. The LBS
  entry stays pending: the next owner XCLAIMs it.

  KEYS[1] lock key
  KEYS[2] meta key

  ARGV[1] token

  Result: 1 released, 0 refused (not ours any more)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'exp', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1

--[[
  Finish a data stream: XACK and XDEL its LBS entry, mark it done and release the lock, only if the
  caller still holds the lock.

  KEYS[1] lock key
  KEYS[2] meta key
  KEYS[3] LBS key

  ARGV[1] token
  ARGV[2] LBS consumer group
  ARGV[3] LBS entry id

  Result: 1 done, 0 refused (not the owner)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('XACK', KEYS[3], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'doneId', ARGV[3])
return 1

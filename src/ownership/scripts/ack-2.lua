--[[
  Acknowledge entries of a data stream, only if the caller still holds the stream's lock. A stalled
  owner that wakes up after it was replaced is refused here.

  KEYS[1] lock key
  KEYS[2] data stream

  ARGV[1] token
  ARGV[2] consumer group of the data stream
  ARGV[3..n] entry ids

  Result: number of entries acknowledged, or -1 when refused (not the owner)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
return redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))

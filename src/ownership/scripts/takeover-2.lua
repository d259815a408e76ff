--[[
  Move every pending entry of a data stream's consumer group to the caller (the new owner), so it
  can re-read what the previous owner read but did not acknowledge. Fenced: only the lock holder
  may do it. Bounded work per call: the caller repeats with the returned cursor until it is 0-0.

  KEYS[1] lock key
  KEYS[2] data stream

  ARGV[1] token
  ARGV[2] consumer group of the data stream
  ARGV[3] consumer (the new owner)
  ARGV[4] start cursor (0-0 the first time)
  ARGV[5] entries per XAUTOCLAIM call

  Result: {claimedCount, nextCursor}, or {-1, ''} when refused (not the owner)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {-1, ''}
end
local cursor = ARGV[4]
local claimed = 0
for _ = 1, 10 do
  local res = redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, cursor, 'COUNT', ARGV[5], 'JUSTID')
  cursor = res[1]
  claimed = claimed + #res[2]
  if cursor == '0-0' then
    break
  end
end
return {claimed, cursor}

--[[
  Shared by the order scripts: when the head of a source moved, the next jobs of that source
  that stepped aside (parked in BullMQ's delayed set by the order, not by a retry backoff) go
  back to the FRONT of the wait list, first in line first, so that they do not sleep out their
  delay nor queue behind a backlog. Mirrors BullMQ's own promotion of due delayed jobs: ZREM from
  delayed, push to wait, `delay` 0, a 'waiting' event, and the marker that wakes workers.

  k.parked, k.delayed, k.wait, k.marker, k.meta, k.events; returns how many were promoted.
]]
local function promoteParked(k, list, jobPrefix, n)
  if redis.call('SCARD', k.parked) == 0 then return 0 end
  local ids = redis.call('LRANGE', list, 0, n - 1)
  local promoted = 0
  for i = #ids, 1, -1 do
    local id = ids[i]
    -- Parked but not in delayed yet (it is on its way there): leave it parked for the next time.
    if redis.call('SISMEMBER', k.parked, id) == 1 and redis.call('ZREM', k.delayed, id) == 1 then
      redis.call('SREM', k.parked, id)
      redis.call('RPUSH', k.wait, id)
      redis.call('HSET', jobPrefix .. id, 'delay', 0)
      redis.call('XADD', k.events, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
      promoted = promoted + 1
    end
  end
  if promoted > 0 and redis.call('HEXISTS', k.meta, 'paused') ~= 1 then
    redis.call('ZADD', k.marker, 0, '0')
  end
  return promoted
end

--[[
  Shared by the order scripts: when the head of a source moved, the next jobs of that source
  that stepped aside (parked in BullMQ's delayed set by the order, not by a retry backoff) go
  back to the FRONT of the wait list, first in line first, so that they do not sleep out their
  delay nor queue behind a backlog. Mirrors BullMQ's own promotion of due delayed jobs: ZREM from
  delayed, push to wait, `delay` 0, a 'waiting' event, and the marker that wakes workers.

  k.parked, k.delayed, k.wait, k.marker, k.meta, k.events
]]

-- Promote one parked job if it is in the delayed set already (a job on its way there stays
-- parked: it rechecks once it got there, see unpark-8.lua). Returns 1 when promoted.
local function promoteOne(k, id, jobPrefix)
  if redis.call('SISMEMBER', k.parked, id) == 0 or redis.call('ZREM', k.delayed, id) == 0 then
    return 0
  end
  redis.call('SREM', k.parked, id)
  redis.call('RPUSH', k.wait, id)
  redis.call('HSET', jobPrefix .. id, 'delay', 0)
  redis.call('XADD', k.events, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
  return 1
end

local function wakeWorkers(k)
  if redis.call('HEXISTS', k.meta, 'paused') ~= 1 then redis.call('ZADD', k.marker, 0, '0') end
end

-- Promote the parked jobs among the first n of a source's list; the first in line ends up at the
-- very front. Returns how many were promoted.
local function promoteParked(k, list, jobPrefix, n)
  if redis.call('SCARD', k.parked) == 0 then return 0 end
  local ids = redis.call('LRANGE', list, 0, n - 1)
  local promoted = 0
  for i = #ids, 1, -1 do promoted = promoted + promoteOne(k, ids[i], jobPrefix) end
  if promoted > 0 then wakeWorkers(k) end
  return promoted
end

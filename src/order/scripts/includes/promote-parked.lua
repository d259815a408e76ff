--[[
  Shared by the order scripts: when the head of a source moved, the next jobs of that source
  that stepped aside (parked in BullMQ's delayed set by the order, not by a retry backoff) go
  back to the FRONT of the wait list, first in line first, so that they do not sleep out their
  delay nor queue behind a backlog. Mirrors BullMQ's own promotion of due delayed jobs: ZREM from
  delayed, push to wait, `delay` 0, a 'waiting' event, and the marker that wakes workers.

  k.parked, k.delayed, k.wait, k.marker, k.meta, k.events
]]

local function fromDelayed(k, id, jobPrefix)
  redis.call('SREM', k.parked, id)
  redis.call('HSET', jobPrefix .. id, 'delay', 0)
  redis.call('XADD', k.events, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
end

-- Promote one parked job out of the delayed set (used right after it parked). A job on its way
-- to the delayed set stays parked. Returns 1 when promoted.
local function promoteOne(k, id, jobPrefix)
  if redis.call('SISMEMBER', k.parked, id) == 0 or redis.call('ZREM', k.delayed, id) == 0 then
    return 0
  end
  fromDelayed(k, id, jobPrefix)
  redis.call('RPUSH', k.wait, id)
  return 1
end

local function wakeWorkers(k)
  if redis.call('HEXISTS', k.meta, 'paused') ~= 1 then redis.call('ZADD', k.marker, 0, '0') end
end

-- Walk the first n jobs of a source's list, in order: parked jobs in the delayed set are
-- promoted, active jobs (their lock exists) are passed, parked jobs back in the wait list (their
-- delay ran out) are moved to its front (at most 32 per walk: LREM is O(wait length)), and the
-- walk stops at the first other job — after moving it to the front too if it sits in the wait
-- list, since it is the next the source needs. The first in line ends up at the very front.
-- Returns how many jobs moved.
local function promoteParked(k, list, jobPrefix, n)
  if redis.call('SCARD', k.parked) == 0 then return 0 end
  local ids = redis.call('LRANGE', list, 0, n - 1)
  local picked = {}
  local lremBudget = 32
  for _, id in ipairs(ids) do
    if redis.call('SISMEMBER', k.parked, id) == 1 and redis.call('ZREM', k.delayed, id) == 1 then
      fromDelayed(k, id, jobPrefix)
      picked[#picked + 1] = id
    elseif redis.call('EXISTS', jobPrefix .. id .. ':lock') == 0 then
      -- Parked jobs whose delay ran out sit at the back of the wait list: bring a bounded number
      -- of them forward too. The walk stops at the first job that is neither (not parked: a
      -- retry backoff, or never fetched), after moving it forward if it waits in the list.
      local parked = redis.call('SISMEMBER', k.parked, id) == 1
      if lremBudget > 0 and redis.call('LREM', k.wait, 1, id) == 1 then
        lremBudget = lremBudget - 1
        redis.call('SREM', k.parked, id)
        picked[#picked + 1] = id
      else
        break
      end
      if not parked then break end
    end
  end
  for i = #picked, 1, -1 do redis.call('RPUSH', k.wait, picked[i]) end
  if #picked > 0 then wakeWorkers(k) end
  return #picked
end

--[[
  A job failed for good. Policy 'continue': it leaves its source's list (it never gets a seq)
  and the source goes on. Policy 'block': the source is held until the job is retried or removed.

  KEYS[1] index  KEYS[2] admissions  KEYS[3] held sources  KEYS[4] sources with waiters
  KEYS[5] failed zset
  ARGV[1] source list key prefix  ARGV[2] jobId  ARGV[3] policy  ARGV[4] wake channel

  Returns 'skipped', 'held', or '' when the job was not in the order.
]]
local rcall = redis.call
local indexKey, admKey, heldKey, waitingKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local jobId = ARGV[2]
local source = rcall('HGET', indexKey, jobId)
if not source then return '' end
-- Retried in the meantime (by an operator): it is no longer failed, leave it in place.
if not rcall('ZSCORE', KEYS[5], jobId) then return '' end
local a = rcall('HGET', admKey, jobId)
if a and string.sub(a, 1, 2) ~= 'D|' then rcall('HDEL', admKey, jobId) end
if ARGV[3] == 'block' then
  rcall('HSET', heldKey, source, jobId)
  return 'held'
end
rcall('LREM', ARGV[1] .. source, 1, jobId)
rcall('HDEL', indexKey, jobId)
rcall('HDEL', admKey, jobId)
if rcall('HDEL', waitingKey, source) == 1 then rcall('PUBLISH', ARGV[4], source) end
return 'skipped'

--[[
  A job failed for good. Policy 'continue': it leaves its source's list (it never gets a seq)
  and the source goes on. Policy 'block': the source is held until the job is retried or removed.

  KEYS[1] index  KEYS[2] admissions  KEYS[3] held sources  KEYS[4] sources with waiters
  KEYS[5] failed zset  KEYS[6] parked jobs  KEYS[7] delayed  KEYS[8] wait  KEYS[9] marker
  KEYS[10] meta  KEYS[11] events stream
  ARGV[1] source list key prefix  ARGV[2] jobId  ARGV[3] policy  ARGV[4] wake channel
  ARGV[5] job key prefix  ARGV[6] how many next jobs to promote at most

  Returns 'skipped', 'held', or '' when the job was not in the order.
]]
--- @include "promote-parked"
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
local list = ARGV[1] .. source
rcall('LREM', list, 1, jobId)
rcall('HDEL', indexKey, jobId)
rcall('HDEL', admKey, jobId)
if rcall('HDEL', waitingKey, source) == 1 then rcall('PUBLISH', ARGV[4], source) end
local k = { parked = KEYS[6], delayed = KEYS[7], wait = KEYS[8], marker = KEYS[9],
            meta = KEYS[10], events = KEYS[11] }
promoteParked(k, list, ARGV[5], tonumber(ARGV[6]))
return 'skipped'

--[[
  A job just parked (moved to delayed) because `blocker` was in its way. If the blocker was
  written or dropped meanwhile — its resolve may have run while this job was on its way to the
  delayed set, when a promotion could not move it yet — promote the job now instead of letting
  it sleep out its delay.

  KEYS[1] index  KEYS[2] admissions  KEYS[3] parked  KEYS[4] delayed  KEYS[5] wait
  KEYS[6] marker  KEYS[7] meta  KEYS[8] events stream
  ARGV[1] source list key prefix  ARGV[2] jobId  ARGV[3] blocker jobId  ARGV[4] job key prefix

  Returns 1 when the job was promoted, else 0.
]]
--- @include "promote-parked"
local k = { parked = KEYS[3], delayed = KEYS[4], wait = KEYS[5], marker = KEYS[6],
            meta = KEYS[7], events = KEYS[8] }
local source = redis.call('HGET', KEYS[1], ARGV[2])
if not source then return 0 end
local blocker = ARGV[3]
local a = redis.call('HGET', KEYS[2], blocker)
local stillThere = redis.call('LPOS', ARGV[1] .. source, blocker)
if stillThere and not (a and string.sub(a, 1, 2) == 'D|') then return 0 end
local promoted = promoteOne(k, ARGV[2], ARGV[4])
if promoted == 1 then wakeWorkers(k) end
return promoted

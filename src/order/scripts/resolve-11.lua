--[[
  Mark admitted jobs as written, then pop every written job from the head of each one's source
  list, advancing the source's committed seq. When a head moved: wakes waiting workers and
  promotes the next parked jobs of the source (includes/promote-parked.lua).

  KEYS[1] index  KEYS[2] admissions  KEYS[3] committed seq  KEYS[4] sources with waiters
  KEYS[5] held sources  KEYS[6] parked jobs (set)  KEYS[7] delayed  KEYS[8] wait  KEYS[9] marker
  KEYS[10] meta  KEYS[11] events stream
  ARGV[1] source list key prefix  ARGV[2] wake channel  ARGV[3] job key prefix
  ARGV[4] how many next jobs to promote at most  ARGV[5..] the jobIds, one after the other

  Returns, per jobId in order, the number of jobs popped, or -1 when the job was not admitted
  (nothing changes for it).
]]
--- @include "promote-parked"
local rcall = redis.call
local indexKey, admKey, committedKey, waitingKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local k = { parked = KEYS[6], delayed = KEYS[7], wait = KEYS[8], marker = KEYS[9],
            meta = KEYS[10], events = KEYS[11] }

local function resolve(jobId)
  local source = rcall('HGET', indexKey, jobId)
  if not source then return 0 end
  local a = rcall('HGET', admKey, jobId)
  local seq = a and string.match(a, '|(%d+)$')
  if not seq then return -1 end
  rcall('HSET', admKey, jobId, 'D|' .. seq)
  local list = ARGV[1] .. source
  local popped = 0
  while true do
    local head = rcall('LINDEX', list, 0)
    if not head then break end
    local h = rcall('HGET', admKey, head)
    if not (h and string.sub(h, 1, 2) == 'D|') then break end
    rcall('LPOP', list)
    rcall('HDEL', indexKey, head)
    rcall('HDEL', admKey, head)
    rcall('HSET', committedKey, source, string.sub(h, 3))
    popped = popped + 1
  end
  if popped > 0 then
    if rcall('HGET', KEYS[5], source) == jobId then rcall('HDEL', KEYS[5], source) end
    promoteParked(k, list, ARGV[3], tonumber(ARGV[4]))
    if rcall('HDEL', waitingKey, source) == 1 then rcall('PUBLISH', ARGV[2], source) end
  end
  return popped
end

local replies = {}
for i = 5, #ARGV do replies[#replies + 1] = resolve(ARGV[i]) end
return replies

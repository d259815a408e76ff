--[[
  Mark an admitted job as written, then pop every written job from the head of its source's list,
  advancing the source's committed seq. Wakes waiting workers when the head moved.

  KEYS[1] index  KEYS[2] admissions  KEYS[3] committed seq  KEYS[4] sources with waiters
  KEYS[5] held sources
  ARGV[1] source list key prefix  ARGV[2] jobId  ARGV[3] wake channel

  Returns the number of jobs popped, or -1 when the job was not admitted (nothing changes).
]]
local rcall = redis.call
local indexKey, admKey, committedKey, waitingKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local jobId = ARGV[2]
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
  if rcall('HDEL', waitingKey, source) == 1 then rcall('PUBLISH', ARGV[3], source) end
end
return popped

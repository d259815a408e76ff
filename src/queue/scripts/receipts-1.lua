--[[
  Record the receipts of several publish jobs: each job's data is replaced by the new data (the
  event plus its receipt), as BullMQ's updateData does, but for a whole batch in one call.

  KEYS[1] a key of the queue (its meta hash, only named: on Redis Cluster it routes the call to the
          queue's slot, where every job key of the queue lives, as BullMQ requires)
  ARGV[1] job key prefix  then pairs: ARGV[2k] jobId  ARGV[2k+1] data JSON

  Returns one reply per job, in order: 0 when recorded, -1 when the job does not exist (removed
  meanwhile: nothing is written, so no stray half-job hash appears).
]]
local rcall = redis.call
local replies = {}
for i = 2, #ARGV - 1, 2 do
  local key = ARGV[1] .. ARGV[i]
  if rcall('EXISTS', key) == 1 then
    rcall('HSET', key, 'data', ARGV[i + 1])
    replies[#replies + 1] = 0
  else
    replies[#replies + 1] = -1
  end
end
return replies

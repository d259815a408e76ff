--[[
  Admit a job to be written to Kafka: it may go when every earlier job of its source is either
  resolved (written) or admitted by this same process (so that this process's producer keeps
  them in order). Its seq is then the source's committed seq + its position + 1.

  KEYS[1] events stream  KEYS[2] cursor  KEYS[3] index  KEYS[4] wait  KEYS[5] active
  KEYS[6] admissions (jobId -> '<processId>|<seq>', or 'D|<seq>' once written)
  KEYS[7] committed seq per source  KEYS[8] sources with waiters  KEYS[9] failed zset
  KEYS[10] held sources (source -> jobId)  KEYS[11] parked jobs (stepped aside; see promote-parked)
  ARGV[1] job key prefix  ARGV[2] source list key prefix  ARGV[3] processId
  ARGV[4] policy on final failure: 'continue' | 'block'  ARGV[5] max stream entries per read
  ARGV[6..] the jobIds to admit, one after the other (as if each were its own call)

  Returns one reply per jobId, in order, each
          { 'go', seq, source }
        | { 'inflight' | 'pending', blockingJobId, source, 1 if the blocking job is active in a
            live worker (its BullMQ lock exists) else 0 }
        | { 'held', blockingJobId, source }
        | { 'unindexed' } (the job has no usable source: validation will fail it)
        | { 'error', message }
]]
--- @include "catch-up"
local k = { events = KEYS[1], cursor = KEYS[2], index = KEYS[3], wait = KEYS[4], active = KEYS[5] }
local admKey, committedKey, waitingKey, failedKey, heldKey = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local jobPrefix, listPrefix, mine, policy = ARGV[1], ARGV[2], ARGV[3] .. '|', ARGV[4]
local maxEntries = tonumber(ARGV[5])

-- State of an earlier job that is neither written nor admitted by this process.
local function stateOf(p)
  local jobKey = jobPrefix .. p
  if rcall('EXISTS', jobKey) == 0 then return 'gone' end
  if rcall('ZSCORE', failedKey, p) then return 'failed' end
  if rcall('HEXISTS', jobKey, 'finishedOn') == 1 then return 'finished' end
  return 'open'
end

local function admit(jobId)
  local source = rcall('HGET', k.index, jobId)
  if not source then
    for _ = 1, 50 do
      local read = catchUp(k, jobPrefix, listPrefix, maxEntries)
      source = rcall('HGET', k.index, jobId)
      if source or read == 0 then break end
    end
    -- Not in the stream nor in the lists (e.g. a delayed job whose 'added' entry was trimmed, or a
    -- job retried after it failed for good): it goes after everything known of its source.
    if not source and indexJob(k.index, jobPrefix, listPrefix, jobId) then
      source = rcall('HGET', k.index, jobId)
    end
    if not source then return { 'unindexed' } end
  end

  local list = listPrefix .. source

  local function drop(p)
    rcall('LREM', list, 1, p)
    rcall('HDEL', k.index, p)
    rcall('HDEL', admKey, p)
    if rcall('HGET', heldKey, source) == p then rcall('HDEL', heldKey, source) end
  end

  for _ = 1, 10000 do
    local pos = rcall('LPOS', list, jobId)
    if not pos then
      rcall('RPUSH', list, jobId)
      pos = rcall('LLEN', list) - 1
    end
    local restart = false
    -- Shortcut: when the job just before is admitted by this process, so is every job before it
    -- (an admission needs that, and a withdrawal removes a process's admissions from a point on).
    local nearest = pos > 0 and rcall('HGET', admKey, rcall('LINDEX', list, pos - 1))
    if pos > 0 and not (nearest and string.sub(nearest, 1, #mine) == mine) then
      local preds = rcall('LRANGE', list, 0, pos - 1)
      for _, p in ipairs(preds) do
        local a = rcall('HGET', admKey, p)
        if not (a and (string.sub(a, 1, 2) == 'D|' or string.sub(a, 1, #mine) == mine)) then
          local state = stateOf(p)
          if state == 'gone' or state == 'finished' or (state == 'failed' and policy ~= 'block') then
            drop(p)
            restart = true
            break
          elseif state == 'failed' then
            rcall('HSET', heldKey, source, p)
            return { 'held', p, source }
          end
          rcall('HSET', waitingKey, source, '1')
          local live = rcall('EXISTS', jobPrefix .. p .. ':lock')
          if a then return { 'inflight', p, source, live } end
          return { 'pending', p, source, live }
        end
      end
    end
    if not restart then
      local committed = tonumber(rcall('HGET', committedKey, source) or '0')
      local seq = committed + pos + 1
      rcall('HSET', admKey, jobId, mine .. seq)
      rcall('HDEL', heldKey, source)
      rcall('SREM', KEYS[11], jobId)
      return { 'go', tostring(seq), source }
    end
  end
  return { 'error', 'order admit: too many dropped predecessors' }
end

local replies = {}
for i = 6, #ARGV do replies[#replies + 1] = admit(ARGV[i]) end
return replies

--[[
  Shared by the order scripts (included by the loader, not run alone): put jobs into their
  source's list in enqueue order.

  The enqueue order of a queue is read from BullMQ's own events stream: its add script XADDs one
  'added' entry per new job, inside the same atomic script that stores the job, so the stream ids
  of 'added' entries are the exact order of adds (plain queue.add, addBulk, custom or numeric ids).
  The stream is capped (MAXLEN ~ 10 000 by default). When entries after our cursor were trimmed
  away before we read them, or when there is no cursor yet, the jobs are indexed from the lists
  instead: active (fetched, oldest first) and then wait (a FIFO: oldest at the right end).
]]
local rcall = redis.call

local function streamIdLess(a, b)
  local a1, a2 = string.match(a, '^(%d+)-(%d+)$')
  local b1, b2 = string.match(b, '^(%d+)-(%d+)$')
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  return a1 < b1 or (a1 == b1 and a2 < b2)
end

-- Append one job to its source's list unless it is indexed already, gone, finished, or has no
-- usable source. The source is `sourceType:sourceId`, the Kafka key.
local function indexJob(indexKey, jobPrefix, listPrefix, jobId)
  if rcall('HEXISTS', indexKey, jobId) == 1 then return false end
  local fields = rcall('HMGET', jobPrefix .. jobId, 'data', 'finishedOn')
  local data = fields[1]
  if not data or fields[2] then return false end
  local ok, decoded = pcall(cjson.decode, data)
  if not ok or type(decoded) ~= 'table' then return false end
  local st, si = decoded['sourceType'], decoded['sourceId']
  if type(st) ~= 'string' or type(si) ~= 'string' or st == '' or si == '' then return false end
  local source = st .. ':' .. si
  rcall('RPUSH', listPrefix .. source, jobId)
  rcall('HSET', indexKey, jobId, source)
  return true
end

local function streamInfo(eventsKey)
  local info = redis.pcall('XINFO', 'STREAM', eventsKey)
  local out = {}
  if type(info) ~= 'table' or info['err'] then return out end
  for i = 1, #info - 1, 2 do out[info[i]] = info[i + 1] end
  return out
end

-- Index from the lists (see above) and move the cursor past what can no longer be read.
local function resync(k, jobPrefix, listPrefix, cursor, info)
  local active = rcall('LRANGE', k.active, 0, -1)
  for i = #active, 1, -1 do indexJob(k.index, jobPrefix, listPrefix, active[i]) end
  local waiting = rcall('LRANGE', k.wait, 0, -1)
  for i = #waiting, 1, -1 do indexJob(k.index, jobPrefix, listPrefix, waiting[i]) end
  local nextCursor
  if cursor then
    nextCursor = info['max-deleted-entry-id']
  else
    nextCursor = info['last-generated-id'] or '0-0'
  end
  rcall('SET', k.cursor, nextCursor)
  return nextCursor
end

-- Read at most maxEntries entries of the events stream after the cursor. Returns the number of
-- entries read and 1 when a resync from the lists was needed.
local function catchUp(k, jobPrefix, listPrefix, maxEntries)
  local cursor = rcall('GET', k.cursor)
  local resynced = 0
  local info = streamInfo(k.events)
  if not cursor then
    cursor = resync(k, jobPrefix, listPrefix, nil, info)
    resynced = 1
  else
    local deleted = info['max-deleted-entry-id']
    if deleted and deleted ~= '0-0' and streamIdLess(cursor, deleted) then
      cursor = resync(k, jobPrefix, listPrefix, cursor, info)
      resynced = 1
    end
  end
  local entries = rcall('XRANGE', k.events, '(' .. cursor, '+', 'COUNT', maxEntries)
  for _, entry in ipairs(entries) do
    local f = entry[2]
    if f[2] == 'added' and f[1] == 'event' and f[3] == 'jobId' then
      indexJob(k.index, jobPrefix, listPrefix, f[4])
    end
  end
  if #entries > 0 then rcall('SET', k.cursor, entries[#entries][1]) end
  return #entries, resynced
end

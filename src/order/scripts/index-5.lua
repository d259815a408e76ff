--[[
  Index newly added jobs of the queue into their sources' lists (see includes/catch-up.lua).
  Run by every worker's background loop; safe to run concurrently (atomic, from one cursor).

  KEYS[1] the queue's events stream     KEYS[2] order cursor (last stream id read)
  KEYS[3] order index (jobId -> source) KEYS[4] wait list   KEYS[5] active list
  ARGV[1] job key prefix ('<prefix>:<queue>:')
  ARGV[2] source list key prefix ('<prefix>:<queue>:order:src:')
  ARGV[3] max entries to read

  Returns { entries read, 1 if resynced from the lists else 0, cursor }
]]
--- @include "catch-up"
local k = { events = KEYS[1], cursor = KEYS[2], index = KEYS[3], wait = KEYS[4], active = KEYS[5] }
local read, resynced = catchUp(k, ARGV[1], ARGV[2], tonumber(ARGV[3]))
return { read, resynced, rcall('GET', k.cursor) or '0-0' }

--[[
  A produce request of this process failed for these sources: withdraw every admission this
  process holds on them (they form a prefix of each source's list), so that nothing of the source
  is written before the failed job is written again.

  KEYS[1] index (unused; kept for the key layout)  KEYS[2] admissions
  ARGV[1] source list key prefix  ARGV[2] processId  ARGV[3..] sources

  Returns the number of admissions withdrawn.
]]
local rcall = redis.call
local admKey = KEYS[2]
local mine = ARGV[2] .. '|'
local withdrawn = 0
for i = 3, #ARGV do
  local list = ARGV[1] .. ARGV[i]
  local n = rcall('LLEN', list)
  local start = 0
  while start < n do
    local ids = rcall('LRANGE', list, start, start + 99)
    local more = true
    for _, id in ipairs(ids) do
      local a = rcall('HGET', admKey, id)
      if not a then
        more = false
        break
      end
      if string.sub(a, 1, #mine) == mine then
        rcall('HDEL', admKey, id)
        withdrawn = withdrawn + 1
      end
    end
    if not more then break end
    start = start + 100
  end
end
return withdrawn

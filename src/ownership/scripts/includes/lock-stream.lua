--[[
  Shared by acquire-3 and lock-2 (included by the loader, not run alone): find the stream's LBS
  entry and, unless it was finished or the lock is alive, lock the stream with a new fencing
  token.

  Expects KEYS[1] (lock key), KEYS[2] (meta key), ARGV[1] (owner id), ARGV[2] (lock TTL in ms) and
  a local `lbsId`: the entry asked for, or '' for the one recorded in meta.

  Returns from the script with {'gone', ''}, {'done', lbsId} or {'owned', holderToken,
  recordedLbsId or ''}; otherwise goes on with `lbsId` found and `token` holding the lock.
]]
local recorded = redis.call('HGET', KEYS[2], 'lbsId')
if lbsId == '' then
  lbsId = recorded
end
if not lbsId then
  return {'gone', ''}
end
if redis.call('HGET', KEYS[2], 'doneId') == lbsId then
  return {'done', lbsId}
end
local holder = redis.call('GET', KEYS[1])
if holder then
  return {'owned', holder, recorded or ''}
end

local fence = redis.call('HINCRBY', KEYS[2], 'fence', 1)
local token = fence .. '|' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])

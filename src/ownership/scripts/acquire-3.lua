--[[
  Take ownership of one data stream: acquire its lock with a new fencing token, then XCLAIM its
  load-balancer-stream entry for the new owner. Both steps run atomically, in that order, so a
  stream is never held in the LBS by a consumer that does not hold its lock.

  KEYS[1] lock key      (<service>-lock:<stream>)
  KEYS[2] meta key      (<service>-meta:<stream>, hash: fence, lbsId, owner, exp, doneId)
  KEYS[3] LBS key       (<service>-input)

  ARGV[1] owner id (consumer name in the LBS group)
  ARGV[2] lock TTL in ms
  ARGV[3] LBS consumer group
  ARGV[4] LBS entry id, or '' to use the one recorded in meta

  Result (array of strings):
    {'acquired', token, lbsId, previousExpiryMs or '', nowMs}
    {'owned', holderToken, recordedLbsId or ''}   the lock is alive (someone else, or us)
    {'done', lbsId}                                the entry was finished by doneStream
    {'gone', lbsId or ''}                          the entry is no longer pending in the LBS
]]
local lbsId = ARGV[4]
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

local claimed = redis.call('XCLAIM', KEYS[3], ARGV[3], ARGV[1], 0, lbsId, 'JUSTID')
if #claimed == 0 then
  redis.call('DEL', KEYS[1])
  return {'gone', lbsId}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previousExpiry = redis.call('HGET', KEYS[2], 'exp') or ''
redis.call('HSET', KEYS[2], 'lbsId', lbsId, 'owner', ARGV[1], 'exp', now + tonumber(ARGV[2]))
return {'acquired', token, lbsId, previousExpiry, tostring(now)}

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
--- @include "lock-stream"

local claimed = redis.call('XCLAIM', KEYS[3], ARGV[3], ARGV[1], 0, lbsId, 'JUSTID')
if #claimed == 0 then
  redis.call('DEL', KEYS[1])
  return {'gone', lbsId}
end

--- @include "record-owner"
return {'acquired', token, lbsId, previousExpiry, tostring(now)}

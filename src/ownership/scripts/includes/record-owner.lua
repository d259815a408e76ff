--[[
  Shared by acquire-3 and lock-2 (included by the loader, not run alone), after the lock is taken:
  record in meta (KEYS[2]) the entry `lbsId`, the owner ARGV[1] and when the lock expires (now +
  ARGV[2] ms). Leaves `now` (ms, Redis' clock) and `previousExpiry` (the expiry recorded before,
  or '') for the reply.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previousExpiry = redis.call('HGET', KEYS[2], 'exp') or ''
redis.call('HSET', KEYS[2], 'lbsId', lbsId, 'owner', ARGV[1], 'exp', now + tonumber(ARGV[2]))

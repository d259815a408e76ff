--[[
  Retain one event of a source and publish its id-only notification, in one atomic step.

  KEYS[1] source history   (sorted set: score = seq, member = entry JSON starting {"ts":<ms>,)
  KEYS[2] source meta      (hash: bytes = sum of member sizes, trimmed = highest seq trimmed,
                            tlast = seq of the source's last entry in the type stream)
  KEYS[3] type stream      (stream: n = notification, p = the source's previous seq in the stream)
  KEYS[4] type meta        (hash: trimmed = id of the last type-stream entry trimmed,
                            epoch = set once when the history of the type starts)

  ARGV[1] Pub/Sub channel: the source's, or its repair channel `<prefix>::repair:<type>:<id>` for a
          late write after a Pub/Sub outage (plain subscribers of the source's channel never see
          it out of order; the edge's one pattern subscription does, and orders it by seq)
  ARGV[2] notification JSON (ends with "}"; the stream id is appended as "pos")
  ARGV[3] entry JSON
  ARGV[4] seq
  ARGV[5] (unused; the age is measured on the Redis clock, as stream ids are)
  ARGV[6] max events per source
  ARGV[7] max bytes per source
  ARGV[8] max age (ms), also the keys' TTL; the source meta lives at least a day, so that `tlast`
          outlives the retention: a source's next event still names its predecessor after an idle
          hour, and an aggregate subscriber is not told of a hole that is not there
  ARGV[9] max entries of the type stream
  ARGV[10] random hex, part of a new epoch when the type's history has none yet

  Returns the position "<type-stream id>@<epoch>" of the entry, or "" when the event was already
  retained (a duplicate record repeats its seq) or is older than what was trimmed.
]]
local seq = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local maxEvents = tonumber(ARGV[6])
local maxBytes = tonumber(ARGV[7])
local maxAge = tonumber(ARGV[8])
local typeMax = tonumber(ARGV[9])
local minTs = now - maxAge

local pos = ''
local prev = '0'
local trimmed = tonumber(redis.call('HGET', KEYS[2], 'trimmed') or '0')
local dup = redis.call('ZRANGEBYSCORE', KEYS[1], seq, seq, 'LIMIT', 0, 1)
if #dup == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  -- Everything retained of the source expired (the meta outlives it): what it held is gone.
  local tlast = tonumber(redis.call('HGET', KEYS[2], 'tlast') or '0')
  if tlast > trimmed then
    trimmed = tlast
    redis.call('HSET', KEYS[2], 'trimmed', tlast)
  end
  redis.call('HSET', KEYS[2], 'bytes', 0)
end
if #dup == 0 and seq > trimmed then
  redis.call('ZADD', KEYS[1], seq, ARGV[3])
  local bytes = redis.call('HINCRBY', KEYS[2], 'bytes', #ARGV[3])
  local count = redis.call('ZCARD', KEYS[1])
  -- Trim oldest first; the newest entry always stays, whatever its size.
  while count > 1 do
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local member = oldest[1]
    local ts = tonumber(string.match(member, '^{"ts":(%d+)') or now)
    if count > maxEvents or bytes > maxBytes or ts < minTs then
      redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
      bytes = redis.call('HINCRBY', KEYS[2], 'bytes', -#member)
      count = count - 1
      local score = tonumber(oldest[2])
      if score > trimmed then
        trimmed = score
        redis.call('HSET', KEYS[2], 'trimmed', score)
      end
    else
      break
    end
  end
  redis.call('PEXPIRE', KEYS[1], maxAge)
  redis.call('PEXPIRE', KEYS[2], math.max(maxAge, 86400000))

  do
    -- The start time makes a new epoch even when the same writer starts the history again.
    redis.call('HSETNX', KEYS[4], 'epoch', string.format('%x', now) .. ARGV[10])
    local epoch = redis.call('HGET', KEYS[4], 'epoch')
    -- prev = the highest seq of the source in the stream before this entry (a late write keeps it).
    prev = redis.call('HGET', KEYS[2], 'tlast') or '0'
    if seq > tonumber(prev) then redis.call('HSET', KEYS[2], 'tlast', seq) end
    pos = redis.call('XADD', KEYS[3], '*', 'n', ARGV[2], 'p', prev) .. '@' .. epoch
    local len = redis.call('XLEN', KEYS[3])
    local lastTrimmed = nil
    if len > typeMax then
      local old = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', len - typeMax)
      for _, e in ipairs(old) do
        redis.call('XDEL', KEYS[3], e[1])
        lastTrimmed = e[1]
      end
    end
    -- Age: stream ids start with the Redis clock in ms.
    local aged = redis.call('XRANGE', KEYS[3], '-', '(' .. minTs .. '-0', 'COUNT', 100)
    for _, e in ipairs(aged) do
      redis.call('XDEL', KEYS[3], e[1])
      lastTrimmed = e[1]
    end
    if lastTrimmed then redis.call('HSET', KEYS[4], 'trimmed', lastTrimmed) end
    redis.call('PEXPIRE', KEYS[3], maxAge)
    redis.call('PEXPIRE', KEYS[4], maxAge)
  end
end

local message = ARGV[2]
if pos ~= '' then
  message = string.sub(message, 1, -2) .. ',"pos":"' .. pos .. '","prev":' .. prev .. '}'
end
redis.call('PUBLISH', ARGV[1], message)
return pos

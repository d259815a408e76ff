--[[
  Redis Cluster: the first half of done-stream-3, on the stream's slot only. Mark the stream's
  LBS entry done and release the lock, only if the caller still holds it; the caller then XACKs
  and XDELs the entry (the LBS is in another slot). An entry left pending by a crash between the
  two is found by the sweep, and its claim finishes it (acquire answers 'done').

  KEYS[1] lock key
  KEYS[2] meta key

  ARGV[1] token
  ARGV[2] LBS entry id

  Result: 1 done, 0 refused (not the owner)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], 'doneId', ARGV[2])
redis.call('DEL', KEYS[1])
return 1

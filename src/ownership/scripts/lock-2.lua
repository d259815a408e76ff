--[[
  Redis Cluster: the first half of acquire-3, on the stream's slot only. Lock one data stream with
  a new fencing token and record the LBS entry it is for; the caller then XCLAIMs that entry (the
  LBS is in another slot) and releases the lock if the entry is gone. Between the two steps the
  entry is still pending for its previous consumer, whose lock is gone: nothing reads the LBS
  owner as the holder, and a crash there leaves a lock that expires and is claimed again.

  KEYS[1] lock key      (<service>-lock:{<tag>}:<stream>)
  KEYS[2] meta key      (<service>-meta:{<tag>}:<stream>)

  ARGV[1] owner id (consumer name in the LBS group)
  ARGV[2] lock TTL in ms
  ARGV[3] LBS entry id, or '' to use the one recorded in meta

  Result (array of strings):
    {'locked', token, lbsId, previousExpiryMs or '', nowMs}
    {'owned', holderToken, recordedLbsId or ''}   the lock is alive (someone else, or us)
    {'done', lbsId}                                the entry was finished by doneStream
    {'gone', ''}                                   no entry is known for the stream
]]
local lbsId = ARGV[3]
--- @include "lock-stream"

--- @include "record-owner"
return {'locked', token, lbsId, previousExpiry, tostring(now)}

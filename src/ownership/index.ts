export {
  LBS_FIELD,
  lbsKey,
  lbsGroup,
  ownershipQueueName,
  lockKey,
  metaKey,
  claimJobId,
} from './keys.js';
export {
  addStream,
  addStreams,
  parseLbsEntry,
  lbsPayload,
  type LbsEntry,
  type StreamInfo,
} from './lbs.js';
export { StreamOwnershipClient } from './stream-ownership-client.js';
export { defaultConsumerId, type StreamOwnershipClientOptions } from './client-options.js';
export {
  type OwnershipNotification,
  type StreamAddedNotification,
  type StreamClaimedNotification,
  type StreamExpiredNotification,
  type StreamDisownedNotification,
  type StreamOwnershipEvents,
} from './notifications.js';
export {
  type ClaimJobData,
  type ClaimResult,
  type ClaimReason,
  type SweepResult,
} from './claim-queue.js';
export { StreamLease } from './stream-lease.js';
export {
  LockExtender,
  type LockExtenderOptions,
  type LockExtenderEvents,
} from './lock-extender.js';
export {
  mergeKeyspaceFlags,
  enableExpiredEvents,
  type KeyspaceSetup,
} from './keyspace-listener.js';
export { findOrphans, type Orphan } from './find-orphans.js';
export { streamReply, type StreamEntries } from './stream-reply.js';

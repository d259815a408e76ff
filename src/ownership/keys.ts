/**
 * Every Redis key and name used by stream ownership, built in one place.
 *
 * The load-balancer stream (LBS) names follow the redis-stream-client-go contract, so producers
 * written for the Go library keep working: `<service>-input`, group `<service>-group`, field
 * `lbs-input`. Per-stream keys append the data stream name unchanged: if the name carries a Redis
 * Cluster hash tag (`{tenant-1}:orders`), the lock and meta keys land in the same slot as the data
 * stream, which the fenced ack script needs. The service name cannot contain `{`, so the first hash
 * tag of a per-stream key is always the stream's own.
 */

/** Field of an LBS entry that holds `{"DataStreamName": ..., "Info": {...}}`. */
export const LBS_FIELD = 'lbs-input';

/** The load-balancer stream producers register data streams in. */
export function lbsKey(service: string): string {
  return `${service}-input`;
}

/** Consumer group of the LBS; each entry is delivered to one consumer (round robin). */
export function lbsGroup(service: string): string {
  return `${service}-group`;
}

/** BullMQ queue holding claim jobs and the sweep scheduler. */
export function ownershipQueueName(service: string): string {
  return `${service}-ownership`;
}

/** Prefix of all lock keys of a service; the keyspace listener matches expired keys on it. */
export function lockKeyPrefix(service: string): string {
  return `${service}-lock:`;
}

/** Lock of one data stream; value `<fence>|<owner id>`, with a PX TTL. */
export function lockKey(service: string, stream: string): string {
  return `${lockKeyPrefix(service)}${stream}`;
}

/**
 * Ownership metadata of one data stream (a hash that outlives the lock): `fence` (the monotonic
 * fencing counter), `lbsId`, `owner`, `exp` (when the current lock expires, ms), `doneId` (the LBS
 * entry finished by `doneStream`).
 */
export function metaKey(service: string, stream: string): string {
  return `${service}-meta:${stream}`;
}

/** The data stream name of a lock key, or `undefined` when the key is not a lock of `service`. */
export function streamOfLockKey(service: string, key: string): string | undefined {
  const prefix = lockKeyPrefix(service);
  return key.startsWith(prefix) && key.length > prefix.length
    ? key.slice(prefix.length)
    : undefined;
}

/** Pattern of the keyspace channel that announces expired keys in database `db`. */
export function expiredChannel(db: number): string {
  return `__keyevent@${db}__:expired`;
}

/**
 * Encode a stream name for use inside a BullMQ job id: job ids must not contain `:`. Percent-style
 * escaping of `%` and `:` keeps the mapping one-to-one, so two streams never share a job id.
 */
export function encodeForJobId(stream: string): string {
  return stream.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/** Job id of the claim of `stream` after lock generation `fence` ended (deduplicates claims). */
export function claimJobId(stream: string, fence: number): string {
  return `claim-${encodeForJobId(stream)}-${fence}`;
}

/** Id of the job scheduler that runs the sweep. */
export const SWEEP_SCHEDULER_ID = 'sweep';

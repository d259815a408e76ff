/**
 * Every Redis key and name used by stream ownership, built in one place.
 *
 * The load-balancer stream (LBS) names follow the redis-stream-client-go contract, so producers
 * written for the Go library keep working: `<service>-input`, group `<service>-group`, field
 * `lbs-input`. Per-stream keys append the data stream name unchanged: if the name carries a Redis
 * Cluster hash tag (`{tenant-1}:orders`), the lock and meta keys land in the same slot as the data
 * stream, which the fenced ack script needs. The service name cannot contain `{`, so the first hash
 * tag of a per-stream key is always the stream's own.
 *
 * On Redis Cluster (`cluster` true) per-stream keys put the stream's slot in front, as a hash tag
 * of their own: `<service>-lock:{<tag>}:<stream>`, where `<tag>` is the stream's hash tag, or the
 * whole name when it has none (Redis hashes such a name whole, so `{orders}` is the slot of the
 * data stream `orders`). Every name maps to one key and back. A name with a `}` but no tag has no
 * such form and is refused there ({@link clusterStreamPart}). On a single Redis the keys stay as
 * they always were.
 */

/** The Redis Cluster hash tag of `key` (what the slot is computed from), if it has one. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/**
 * The stream part of per-stream keys on Redis Cluster: `{<tag>}:<stream>`. Throws
 * {@link OwnershipError} for a name that has a `}` but no hash tag (no tag of ours could give
 * its slot).
 */
export function clusterStreamPart(stream: string): string {
  const tag = hashTagOf(stream) ?? (stream.includes('}') ? undefined : stream);
  if (tag === undefined) {
    throw new OwnershipError(
      `stream "${stream}" cannot be owned on Redis Cluster: its name has a "}" but no hash tag, so its lock cannot share its slot; name it with a hash tag, e.g. {tenant-1}:orders`,
    );
  }
  return `{${tag}}:${stream}`;
}

function streamPart(stream: string, cluster: boolean): string {
  return cluster ? clusterStreamPart(stream) : stream;
}

import { OwnershipError } from '../errors.js';

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

/**
 * Lock of one data stream; value `<fence>|<owner id>`, with a PX TTL. `cluster`: the Redis Cluster
 * layout (see the module's notes).
 */
export function lockKey(service: string, stream: string, cluster = false): string {
  return `${lockKeyPrefix(service)}${streamPart(stream, cluster)}`;
}

/**
 * Ownership metadata of one data stream (a hash that outlives the lock): `fence` (the monotonic
 * fencing counter), `lbsId`, `owner`, `exp` (when the current lock expires, ms), `doneId` (the LBS
 * entry finished by `doneStream`).
 */
export function metaKey(service: string, stream: string, cluster = false): string {
  return `${service}-meta:${streamPart(stream, cluster)}`;
}

/**
 * The data stream name of a lock key, or `undefined` when the key is not a lock of `service`.
 * `cluster`: undo the Redis Cluster wrapping.
 */
export function streamOfLockKey(service: string, key: string, cluster = false): string | undefined {
  const prefix = lockKeyPrefix(service);
  if (!key.startsWith(prefix) || key.length <= prefix.length) return undefined;
  const part = key.slice(prefix.length);
  if (!cluster) return part;
  // `{<tag>}:<stream>`: the tag holds no `}`.
  const close = part.indexOf('}');
  if (!part.startsWith('{') || close < 2 || part[close + 1] !== ':') return undefined;
  const stream = part.slice(close + 2);
  return stream.length > 0 ? stream : undefined;
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

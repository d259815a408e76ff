/**
 * The publish worker's BullMQ `limiter`. BullMQ consults a queue's limiter key only when the
 * worker has a limiter, and the Kafka cool-down needs that key (`worker.rateLimit(ms)` sets it
 * to this max, so every worker of the queue pauses). The max is one no real load reaches, so
 * the limiter never throttles on its own. As a side effect BullMQ counts jobs in the key and
 * gives it a TTL of `duration`: the key exists after every job, and a reader that asks for its
 * TTL without the max (Bull Board does) would see "rate limited" all the time. Ask
 * {@link isCoolingDown}'s way instead: limited only when the counter reached this max.
 */
export const COOLDOWN_LIMITER = Object.freeze({ max: Number.MAX_SAFE_INTEGER, duration: 1000 });

/** The part of a BullMQ `Queue` needed to read the cool-down. */
export interface RateLimitTtlReader {
  getRateLimitTtl(maxJobs?: number): Promise<number>;
}

/** Remaining ms of a Kafka cool-down on this publish queue; 0 when none is in force. */
export async function cooldownRemainingMs(queue: RateLimitTtlReader): Promise<number> {
  const ttl = await queue.getRateLimitTtl(COOLDOWN_LIMITER.max);
  return ttl > 0 ? ttl : 0;
}

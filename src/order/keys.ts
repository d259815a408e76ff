import type { Redis } from 'ioredis';
import { deleteMatching } from '../redis.js';

/**
 * Redis keys of per-source ordering, next to the queue's own BullMQ keys (`<prefix>:<queue>:…`).
 * Job ids cannot contain `:`, so none of these can collide with a job's hash. BullMQ's
 * `obliterate()` does not know them: {@link removeOrderState} removes them.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `order:cursor` | string | last id of the queue's events stream read for enqueue order |
 * | `order:index` | hash | jobId → source (`sourceType:sourceId`) of jobs not yet written |
 * | `order:src:<source>` | list | job ids of the source not yet written, in enqueue order |
 * | `order:adm` | hash | jobId → `<processId>\|<seq>` (admitted) or `D\|<seq>` (written) |
 * | `order:seq` | hash | source → last seq written (the source sequence; kept for good) |
 * | `order:waiting` | hash | sources some worker waits on (a write wakes it) |
 * | `order:held` | hash | source → the failed job that holds it (`ORDER_ON_FAILURE=block`) |
 * | `order:parked` | set | jobs that stepped aside into BullMQ's delayed set to wait for their turn |
 * | `order:wake` | channel | Pub/Sub: a source whose head moved |
 */
export interface OrderKeys {
  /** `<prefix>:<queue>:` — BullMQ's job key prefix. */
  jobPrefix: string;
  events: string;
  wait: string;
  active: string;
  failed: string;
  delayed: string;
  marker: string;
  meta: string;
  cursor: string;
  index: string;
  adm: string;
  seq: string;
  waiting: string;
  held: string;
  parked: string;
  /** Prefix of the per-source lists. */
  sourceListPrefix: string;
  wakeChannel: string;
}

/** Build the order keys of a queue. */
export function orderKeys(prefix: string, queueName: string): OrderKeys {
  const base = `${prefix}:${queueName}`;
  const order = `${base}:order`;
  return {
    jobPrefix: `${base}:`,
    events: `${base}:events`,
    wait: `${base}:wait`,
    active: `${base}:active`,
    failed: `${base}:failed`,
    delayed: `${base}:delayed`,
    marker: `${base}:marker`,
    meta: `${base}:meta`,
    cursor: `${order}:cursor`,
    index: `${order}:index`,
    adm: `${order}:adm`,
    seq: `${order}:seq`,
    waiting: `${order}:waiting`,
    held: `${order}:held`,
    parked: `${order}:parked`,
    sourceListPrefix: `${order}:src:`,
    wakeChannel: `${order}:wake`,
  };
}

/**
 * Delete a queue's order state (every `<prefix>:<queue>:order:*` key), e.g. after
 * `queue.obliterate()`. The source sequences start again at 1 afterwards.
 */
export function removeOrderState(redis: Redis, prefix: string, queueName: string): Promise<number> {
  return deleteMatching(redis, `${prefix}:${queueName}:order:*`);
}

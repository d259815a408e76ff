import type { Redis } from 'ioredis';
import { deleteMatching } from '../redis.js';
/**
 * Redis keys of the real-time edge's retained history, all under one base,
 * `<prefix>:<channelPrefix>:edge` (see {@link edgeKeyBase}). They live in the Pub/Sub Redis, next
 * to the channels they mirror, and expire by themselves after the retention age (the source meta
 * after a day at least, so that a source idle longer than the retention still names its last seq).
 *
 * | key | type | holds |
 * |---|---|---|
 * | `src:<sourceType>:<sourceId>` | sorted set | score = seq, member = the retained entry (JSON) |
 * | `srcmeta:<sourceType>:<sourceId>` | hash | `bytes` retained, `trimmed` = highest seq trimmed, `tlast` = highest seq written |
 * | `type:<sourceType>` | stream | the notifications of every source of the type (aggregate) |
 * | `typemeta:<sourceType>` | hash | `trimmed` = id of the last entry trimmed from `type:` |
 */
export interface EdgeKeys {
  base: string;
  source(sourceType: string, sourceId: string): string;
  sourceMeta(sourceType: string, sourceId: string): string;
  type(sourceType: string): string;
  typeMeta(sourceType: string): string;
}

/** The base of every edge key: `<prefix>:<channelPrefix>:edge`. */
export function edgeKeyBase(redisPrefix: string, channelPrefix: string): string {
  return `${redisPrefix}:${channelPrefix}:edge`;
}

/**
 * Delete the retained history of a channel prefix (every `<prefix>:<channelPrefix>:edge:*` key),
 * e.g. when a test or benchmark namespace goes away; it would otherwise expire by itself.
 */
export function removeEdgeState(
  redis: Redis,
  redisPrefix: string,
  channelPrefix: string,
): Promise<number> {
  return deleteMatching(redis, `${edgeKeyBase(redisPrefix, channelPrefix)}:*`);
}

/** Key names of the retained history under `base` (see {@link edgeKeyBase}). */
export function edgeKeys(base: string): EdgeKeys {
  return {
    base,
    source: (t, id) => `${base}:src:${t}:${id}`,
    sourceMeta: (t, id) => `${base}:srcmeta:${t}:${id}`,
    type: (t) => `${base}:type:${t}`,
    typeMeta: (t) => `${base}:typemeta:${t}`,
  };
}

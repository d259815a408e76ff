import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { ScriptSet } from '../redis-scripts.js';
import {
  toNotification,
  type DualEvent,
  type EventNotification,
  type KafkaReceipt,
} from '../events/index.js';
import { edgeKeys, type EdgeKeys } from './keys.js';

const scripts = new ScriptSet(
  new URL('./scripts/', import.meta.url),
  { append: 'append-4.lua' },
  'dsEdge',
);

/**
 * Bounds of the retained history. An event leaves it when any bound is passed (oldest first);
 * the newest event of a source always stays until it ages out.
 */
export interface RetentionOptions {
  /** Events kept per source. @defaultValue 1000 */
  maxEvents: number;
  /** Bytes kept per source (the stored entries, payload included). @defaultValue 1 MiB */
  maxBytes: number;
  /** Age after which an event leaves the history; also the keys' TTL. @defaultValue 3 600 000 ms */
  maxAgeMs: number;
  /** Notifications kept per source type, for `<sourceType>:*` resumes. @defaultValue 10 000 */
  typeMaxEvents: number;
}

/** Defaults of {@link RetentionOptions}. */
export const DEFAULT_RETENTION: RetentionOptions = {
  maxEvents: 1000,
  maxBytes: 1_048_576,
  maxAgeMs: 3_600_000,
  typeMaxEvents: 10_000,
};

/** An event as the history keeps it: the full event and where Kafka put it. */
export interface RetainedEvent {
  seq: number;
  topic: string;
  partition: number;
  offset: string;
  /** When the notification was sent (ms since the epoch, publisher clock). */
  publishedAt: number;
  event: DualEvent;
}

/** A notification as it travels on Pub/Sub and through the type stream. */
export interface EdgeNotification extends EventNotification {
  /** Publish time, ms since the epoch (publisher clock). */
  ts?: number;
  /**
   * Position of the entry in the type stream, `<stream id>@<epoch>` (the position of
   * `<sourceType>:*` subscriptions).
   */
  pos?: string;
  /** Seq of the source's previous entry in the type stream (0: none known). */
  prev?: number;
}

/** A type-stream position split in its parts. */
export interface TypePosition {
  id: string;
  /** Empty when the history of the type had not started when the position was taken. */
  epoch: string;
}

/** Parse `<stream id>@<epoch>` (the epoch may be empty). */
export function parseTypePosition(pos: string): TypePosition | undefined {
  const m = /^(\d{1,20}-\d{1,20})@([0-9a-f]{0,32})$/.exec(pos);
  return m ? { id: m[1]!, epoch: m[2]! } : undefined;
}

/**
 * The channel of a late notification (written back after a Pub/Sub outage):
 * `<prefix>::repair:<sourceType>:<sourceId>`. It matches the edge's `<prefix>:*` subscription
 * (no real source type is empty), not the source's own channel, so plain subscribers never see a
 * notification out of order.
 */
export function repairChannelFor(
  source: { sourceType: string; sourceId: string },
  prefix = 'events',
): string {
  return `${prefix}::repair:${source.sourceType}:${source.sourceId}`;
}

/** Compare two Redis stream ids (`<ms>-<n>`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', an = '0'] = a.split('-');
  const [bm = '0', bn = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(an) - BigInt(bn);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/**
 * Writes and reads the retained history of the real-time edge (see `keys.ts` for the layout).
 * Writing happens in the same Lua script as the Pub/Sub PUBLISH (`scripts/append-4.lua`), so a
 * notification is never sent without being retained, nor retained without being sent. A late
 * write after a Pub/Sub outage is published on the source's repair channel
 * ({@link repairChannelFor}).
 */
export class EdgeHistory {
  readonly keys: EdgeKeys;
  readonly retention: RetentionOptions;
  /** Epoch this writer proposes when a type's history starts (the first writer's wins). */
  private readonly epoch = randomBytes(6).toString('hex');

  constructor(base: string, retention: Partial<RetentionOptions> = {}) {
    this.keys = edgeKeys(base);
    this.retention = { ...DEFAULT_RETENTION, ...retention };
  }

  /** Register the script on a connection (once per connection). */
  define(redis: Redis): void {
    scripts.define(redis);
  }

  /**
   * Queue the retain-and-publish script of one event on a pipeline (or run it on a connection
   * that went through {@link EdgeHistory.define}). `receipt.seq` must be set.
   */
  append(
    target: Redis | ChainableCommander,
    channel: string,
    event: DualEvent,
    receipt: KafkaReceipt & { seq: number },
    now = Date.now(),
  ): Promise<unknown> {
    const r = this.retention;
    const notification: EdgeNotification = { ...toNotification(event, receipt), ts: now };
    const entry = `{"ts":${now},"seq":${receipt.seq},"topic":${JSON.stringify(receipt.topic)},"partition":${receipt.partition},"offset":${JSON.stringify(receipt.offset)},"event":${JSON.stringify(event)}}`;
    const k = this.keys;
    return scripts.run(
      target,
      'append',
      [
        k.source(event.sourceType, event.sourceId),
        k.sourceMeta(event.sourceType, event.sourceId),
        k.type(event.sourceType),
        k.typeMeta(event.sourceType),
      ],
      [
        channel,
        JSON.stringify(notification),
        entry,
        receipt.seq,
        now,
        r.maxEvents,
        r.maxBytes,
        r.maxAgeMs,
        r.typeMaxEvents,
        this.epoch,
      ],
    );
  }

  /**
   * Retained events of a source with seq greater than `after`, oldest first, at most `limit`;
   * with `trimmed`, the highest seq that has left the history (0 when none has).
   */
  async readSource(
    redis: Redis,
    sourceType: string,
    sourceId: string,
    after: number,
    limit: number,
  ): Promise<{ events: RetainedEvent[]; trimmed: number; oldest?: RetainedEvent }> {
    const k = this.keys;
    const [members, trimmed, oldest] = (await redis
      .multi()
      .zrangebyscore(k.source(sourceType, sourceId), `(${after}`, '+inf', 'LIMIT', 0, limit)
      .hget(k.sourceMeta(sourceType, sourceId), 'trimmed')
      .zrange(k.source(sourceType, sourceId), '0', '0')
      .exec()
      .then((replies) => {
        const err = replies?.find(([e]) => e)?.[0];
        if (err) throw err;
        return (replies ?? []).map(([, v]) => v);
      })) as [string[], string | null, string[]];
    const first = oldest[0] ? parseEntry(oldest[0]) : undefined;
    return {
      events: members.map(parseEntry),
      trimmed: Number(trimmed ?? 0),
      ...(first ? { oldest: first } : {}),
    };
  }

  /**
   * Notifications of every source of a type after stream id `after` (exclusive; `0-0` for all),
   * oldest first, at most `limit`; with `trimmed`, the id of the last entry that left the stream
   * (`0-0` when none has), and the type's `epoch` (empty when its history has not started).
   */
  async readType(
    redis: Redis,
    sourceType: string,
    after: string,
    limit: number,
  ): Promise<{ notifications: EdgeNotification[]; trimmed: string; epoch: string }> {
    const k = this.keys;
    const replies = await redis
      .multi()
      .xrange(k.type(sourceType), `(${after}`, '+', 'COUNT', limit)
      .hmget(k.typeMeta(sourceType), 'trimmed', 'epoch')
      .exec();
    const err = replies?.find(([e]) => e)?.[0];
    if (err) throw err;
    const entries = (replies?.[0]?.[1] ?? []) as Array<[string, string[]]>;
    const [trimmed, epoch] = (replies?.[1]?.[1] ?? [null, null]) as Array<string | null>;
    return {
      notifications: entries.map(([id, fields]) => {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
        const n = JSON.parse(f.get('n') ?? '{}') as EdgeNotification;
        return { ...n, pos: `${id}@${epoch ?? ''}`, prev: Number(f.get('p') ?? 0) };
      }),
      trimmed: trimmed ?? '0-0',
      epoch: epoch ?? '',
    };
  }

  /** The last position of a type stream (`0-0@<epoch>` when empty): where a fresh aggregate starts. */
  async typeEnd(redis: Redis, sourceType: string): Promise<string> {
    const [last, epoch] = await Promise.all([
      redis.xrevrange(this.keys.type(sourceType), '+', '-', 'COUNT', 1) as Promise<
        Array<[string, string[]]>
      >,
      redis.hget(this.keys.typeMeta(sourceType), 'epoch'),
    ]);
    return `${last[0]?.[0] ?? '0-0'}@${epoch ?? ''}`;
  }
}

function parseEntry(member: string): RetainedEvent {
  const e = JSON.parse(member) as {
    ts: number;
    seq: number;
    topic: string;
    partition: number;
    offset: string;
    event: DualEvent;
  };
  return {
    seq: e.seq,
    topic: e.topic,
    partition: e.partition,
    offset: e.offset,
    publishedAt: e.ts,
    event: e.event,
  };
}

/** The notification of a retained event (the shape of Pub/Sub messages, with `seq`). */
export function notificationOf(r: RetainedEvent): EdgeNotification {
  return {
    ...toNotification(r.event, {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      seq: r.seq,
    }),
    ts: r.publishedAt,
  };
}

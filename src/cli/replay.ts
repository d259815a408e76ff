import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import type { Kafka } from 'kafkajs';
import type { DualstreamConfig } from '../config/index.js';
import { KAFKA_HEADERS, decodeEvent } from '../events/index.js';
import { silentLogger } from '../logger.js';
import { createKafkaClient } from '../publisher/kafka-client.js';
import { RedisNotifier } from '../publisher/redis-notifier.js';
import { createRedis } from '../redis.js';
import { action, EXIT, UsageError } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';
import { createProgress } from './progress.js';

const GROUPS = ['kafka', 'pubsub'] as const;

/** Offsets given on the command line: one for every partition, or per partition. */
export type OffsetSpec = { all: bigint } | { perPartition: Map<number, bigint> };

/** Parse `--from-offset`/`--to-offset`: `120` (every partition) or `0:120,1:80`. */
export function parseOffsetSpec(text: string): OffsetSpec {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { all: BigInt(t) };
  const map = new Map<number, bigint>();
  for (const part of t.split(',')) {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m) {
      throw new InvalidArgumentError(
        `"${text}" is not an offset: use a number (every partition) or partition:offset pairs, e.g. 0:120,1:80`,
      );
    }
    map.set(Number(m[1]), BigInt(m[2]!));
  }
  return { perPartition: map };
}

/**
 * Partitions that a `partition:offset` spec names but the topic does not have: replaying them
 * would silently replay nothing, so the command refuses them by name.
 */
export function unknownPartitions(spec: OffsetSpec | undefined, partitions: number[]): number[] {
  if (!spec || 'all' in spec) return [];
  const known = new Set(partitions);
  return [...spec.perPartition.keys()].filter((p) => !known.has(p)).sort((a, b) => a - b);
}

function offsetFor(spec: OffsetSpec | undefined, partition: number): bigint | undefined {
  if (!spec) return undefined;
  return 'all' in spec ? spec.all : spec.perPartition.get(partition);
}

/** The inclusive offset range to replay in one partition. */
export interface PartitionRange {
  partition: number;
  from: bigint;
  /** Inclusive. */
  to: bigint;
}

/**
 * Work out the ranges: start at `from` (clamped to the log start), end at `to` or the last
 * offset present when the command started (so a busy topic does not replay forever).
 */
export function planRanges(
  offsets: Array<{ partition: number; low: string; high: string }>,
  from: (partition: number) => bigint | undefined,
  to: OffsetSpec | undefined,
): PartitionRange[] {
  const ranges: PartitionRange[] = [];
  for (const o of offsets) {
    const start = from(o.partition);
    if (start === undefined) continue;
    const low = BigInt(o.low);
    const last = BigInt(o.high) - 1n;
    const end = offsetFor(to, o.partition);
    const range = {
      partition: o.partition,
      from: start < low ? low : start,
      to: end !== undefined && end < last ? end : last,
    };
    if (range.from <= range.to) ranges.push(range);
  }
  return ranges.sort((a, b) => a.partition - b.partition);
}

function kafkaFor(config: DualstreamConfig): Kafka {
  return createKafkaClient(config.kafka, { clientIdSuffix: 'replay' });
}

function isoTimeArg(v: string): number {
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new InvalidArgumentError(`"${v}" is not an ISO 8601 time, e.g. 2024-05-01T12:00:00Z`);
  return t;
}

/** `dualstream replay`: re-send the Pub/Sub notifications of a range of Kafka records. */
export function replayCommand(): Command {
  const cmd = new Command('replay')
    .description(
      're-send the Redis Pub/Sub notifications of events already in Kafka, from an offset or a time up to an offset or now',
    )
    .option(
      '--from-offset <offsets>',
      'start offset: N for every partition, or p:N,p:N',
      parseOffsetSpec,
    )
    .option('--from-time <iso>', 'start at the first record at or after this time', isoTimeArg)
    .option(
      '--to-offset <offsets>',
      'last offset to replay, inclusive (default: the end when started)',
      parseOffsetSpec,
    );
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts, ...GROUPS);
      const fromOffset = opts.fromOffset as OffsetSpec | undefined;
      const fromTime = opts.fromTime as number | undefined;
      if ((fromOffset === undefined) === (fromTime === undefined)) {
        throw new UsageError('give exactly one of --from-offset or --from-time');
      }
      const topic = config.kafka.topic;
      const kafka = kafkaFor(config);
      const admin = kafka.admin();
      const redis = createRedis(config.redis.pubsubUrl, { name: 'dualstream-replay' });
      redis.on('error', () => undefined);
      const notifier = new RedisNotifier({
        redis,
        channelPrefix: config.events.channelPrefix,
        logger: silentLogger(),
      });
      const groupId = `dualstream-replay-${randomUUID()}`;
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
      let consumerStarted = false;
      try {
        await admin.connect();
        const topics = await admin.listTopics();
        if (!topics.includes(topic)) throw new UsageError(`Kafka topic "${topic}" does not exist`);
        const offsets = await admin.fetchTopicOffsets(topic);
        const partitions = offsets.map((o) => o.partition).sort((a, b) => a - b);
        for (const [flag, spec] of [
          ['--from-offset', fromOffset],
          ['--to-offset', opts.toOffset as OffsetSpec | undefined],
        ] as const) {
          const unknown = unknownPartitions(spec, partitions);
          if (unknown.length > 0) {
            throw new UsageError(
              `${flag} names partition ${unknown.join(', ')}, but topic "${topic}" has ${partitions.length} partition(s): ${partitions.join(', ')}`,
            );
          }
        }
        let startOf: (p: number) => bigint | undefined;
        if (fromTime !== undefined) {
          const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, fromTime);
          const map = new Map(byTime.map((o) => [o.partition, BigInt(o.offset)]));
          startOf = (p) => map.get(p);
        } else {
          startOf = (p) => offsetFor(fromOffset, p);
        }
        const ranges = planRanges(offsets, startOf, opts.toOffset as OffsetSpec | undefined);
        const total = ranges.reduce((n, r) => n + Number(r.to - r.from + 1n), 0);
        if (total === 0) {
          process.stdout.write(`nothing to replay in topic "${topic}"\n`);
          return EXIT.ok;
        }
        const progress = createProgress('replay', total);
        const pending = new Map(ranges.map((r) => [r.partition, r]));
        let sent = 0;
        let failed = 0;
        let undecodable = 0;
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            const range = pending.get(batch.partition);
            if (!range) return;
            const work: Array<Promise<boolean>> = [];
            let done = false;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset < range.from) continue;
              if (offset > range.to) {
                done = true;
                break;
              }
              try {
                const event = decodeEvent(m.value ?? '');
                // The record's source-seq goes into the notification, as when it was published.
                const seq = Number(m.headers?.[KAFKA_HEADERS.sourceSeq]?.toString());
                work.push(
                  notifier.notify(event, {
                    topic,
                    partition: batch.partition,
                    offset: m.offset,
                    ...(Number.isInteger(seq) && seq > 0 ? { seq } : {}),
                  }),
                );
              } catch {
                undecodable += 1;
              }
              if (offset === range.to) done = true;
            }
            const results = await Promise.all(work);
            sent += results.filter(Boolean).length;
            failed += results.filter((ok) => !ok).length;
            progress.increment(results.length);
            if (done) {
              pending.delete(batch.partition);
              if (pending.size === 0) finish();
            }
          },
        });
        consumerStarted = true;
        for (const r of ranges)
          consumer.seek({ topic, partition: r.partition, offset: r.from.toString() });
        await finished;
        progress.stop();
        process.stdout.write(
          `replayed ${sent} notification(s) from topic "${topic}" (${ranges
            .map((r) => `partition ${r.partition}: ${r.from}..${r.to}`)
            .join(', ')})` +
            (failed ? `; ${failed} could not be sent to Redis` : '') +
            (undecodable ? `; ${undecodable} record(s) were not events` : '') +
            '\n',
        );
        return failed > 0 ? EXIT.failure : EXIT.ok;
      } finally {
        if (consumerStarted) await consumer.stop().catch(() => undefined);
        await consumer.disconnect().catch(() => undefined);
        // The throw-away group holds no offsets; remove it so it does not linger in listings.
        if (consumerStarted) await admin.deleteGroups([groupId]).catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
        await notifier.close().catch(() => undefined);
        await redis.quit().catch(() => undefined);
      }
    }),
  );
  return cmd;
}

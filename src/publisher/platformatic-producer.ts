import {
  MultipleErrors,
  ProduceAcks,
  Producer,
  murmur2,
  stringSerializers,
  type MessageToProduce,
  type ProduceResult,
  type SASLMechanismValue,
} from '@platformatic/kafka';
import type { KafkaConnectionConfig } from '../config/index.js';
import { KafkaPublishError } from '../errors.js';
import type { EventRecord, KafkaReceipt } from '../events/index.js';
import type { Logger } from '../logger.js';
import type { EventProducer } from './event-producer.js';
import { createKafkaClient } from './kafka-client.js';
import { isConnectionTrouble, KafkaOutageLog } from './kafka-outage-log.js';
import { createTopicLimitReader, describeTooLarge } from './too-large.js';

/** Options of {@link createPlatformaticProducer}. */
export interface PlatformaticProducerOptions {
  logger?: Logger;
  /**
   * Attempts of one request after the first, so that an outage surfaces as a failed job (and a
   * worker cool-down) instead of jobs hanging while they hold their locks. At least 2: the
   * client's idempotent producer turns 0 or 1 into "retry forever". @defaultValue 5
   */
  retries?: number;
  /** Delay between attempts. @defaultValue 300 ms */
  retryDelayMs?: number;
  /** @defaultValue 3000 ms */
  connectTimeoutMs?: number;
  /** Request timeout, also the broker's acks=all timeout. @defaultValue 30000 ms */
  requestTimeoutMs?: number;
}

// Broker error codes that no retry of the same records can fix.
const REFUSED_RECORDS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'TOPIC_AUTHORIZATION_FAILED',
  'INVALID_TOPIC_EXCEPTION',
]);

/**
 * An {@link EventProducer} over `@platformatic/kafka` (pure TypeScript, maintained; chosen with
 * `KAFKA_CLIENT=platformatic`): idempotent producer, acks=all, one request at a time (the sink
 * keeps one in flight; this client's idempotent producer had a bug with concurrent sends).
 *
 * Partitions are chosen here, with the Java client's murmur2 partitioner (the one kafkajs'
 * `DefaultPartitioner` uses), so that a source keeps its partition when the client changes and
 * each record's offset can be told from the per-partition base offsets of the reply.
 *
 * As with kafkajs, a send that failed for good replaces the producer (a new producer id) before
 * the next send, so a later batch can never reuse the sequence numbers of a batch the broker
 * wrote but did not acknowledge.
 */
export function createPlatformaticProducer(
  config: KafkaConnectionConfig,
  options: PlatformaticProducerOptions = {},
): EventProducer {
  const outage = new KafkaOutageLog(options.logger, config.brokers);
  // Only for the reason of a refused too-large record (a rare, admin-side lookup).
  const limitOf = createTopicLimitReader(createKafkaClient(config, { clientIdSuffix: 'limits' }));
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const newProducer = () =>
    new Producer<string, string, string, string>({
      clientId: config.clientId,
      bootstrapBrokers: config.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      serializers: stringSerializers,
      autocreateTopics: false,
      retries: Math.max(2, options.retries ?? 5),
      retryDelay: options.retryDelayMs ?? 300,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      requestTimeout,
      timeout: requestTimeout,
      ...(config.ssl ? { tls: {} } : {}),
      ...(config.sasl
        ? {
            sasl: {
              mechanism: config.sasl.mechanism.toUpperCase() as SASLMechanismValue,
              username: config.sasl.username,
              password: config.sasl.password,
            },
          }
        : {}),
    });

  let producer = newProducer();
  let broken = false;

  const current = (): Producer<string, string, string, string> => {
    if (broken) {
      const old = producer;
      producer = newProducer();
      broken = false;
      old.close().catch(() => undefined);
    }
    return producer;
  };

  const partitionsOf = async (
    p: Producer<string, string, string, string>,
    topics: string[],
  ): Promise<Map<string, number>> => {
    const metadata = await p.metadata({ topics });
    const counts = new Map<string, number>();
    for (const topic of topics) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (!count) throw new KafkaPublishError(`Kafka has no metadata for topic "${topic}"`);
      counts.set(topic, count);
    }
    return counts;
  };

  return {
    async connect() {
      await current().listApis();
    },

    async send(records) {
      if (records.length === 0) return [];
      const p = current();
      let result: ProduceResult;
      let partitions: number[];
      try {
        const counts = await partitionsOf(p, [...new Set(records.map((r) => r.topic))]);
        partitions = records.map((r) => partitionFor(r.key, counts.get(r.topic)!));
        const messages: Array<MessageToProduce<string, string, string, string>> = records.map(
          (r, i) => ({
            topic: r.topic,
            key: r.key,
            value: r.value,
            headers: r.headers,
            partition: partitions[i]!,
          }),
        );
        result = await p.send({ messages });
      } catch (err) {
        broken = true;
        const reason = describe(err);
        if (isConnectionTrouble(reason)) outage.unreachable(reason);
        const refused = refusedCode(err);
        const message =
          refused === 'MESSAGE_TOO_LARGE' || refused === 'RECORD_LIST_TOO_LARGE'
            ? await describeTooLarge(records, limitOf)
            : `Kafka produce failed: ${reason}`;
        throw new KafkaPublishError(message, { retriable: refused === undefined, cause: err });
      }
      outage.reachable();
      try {
        return receiptsFor(records, partitions, result);
      } catch (err) {
        // An answer without some partition leaves that partition's sequence numbers in doubt:
        // as with kafkajs, a fresh producer id before the next send (see event-producer.ts).
        broken = true;
        throw err;
      }
    },

    async ping() {
      try {
        await current().metadata({ topics: [], forceUpdate: true });
        outage.reachable();
        return true;
      } catch {
        return false;
      }
    },

    async disconnect() {
      await producer.close();
    },
  };
}

/** The Java client's partitioner (and kafkajs' DefaultPartitioner): positive murmur2 modulo. */
export function partitionFor(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
}

function receiptsFor(
  records: EventRecord[],
  partitions: number[],
  result: ProduceResult,
): KafkaReceipt[] {
  const next = new Map<string, bigint>();
  for (const o of result.offsets ?? []) next.set(`${o.topic}\u0000${o.partition}`, o.offset);
  return records.map((r, i) => {
    const partition = partitions[i]!;
    const k = `${r.topic}\u0000${partition}`;
    const offset = next.get(k);
    if (offset === undefined) {
      // The outcome is unknown (as with kafkajs during leader changes): write again rather than
      // fail the job for good; at-least-once.
      throw new KafkaPublishError(`Kafka returned no offset for ${r.topic}/${partition}`, {
        retriable: true,
      });
    }
    next.set(k, offset + 1n);
    return { topic: r.topic, partition, offset: offset.toString() };
  });
}

// The first broker error code in the chain that says the records themselves were refused.
function refusedCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (!(e instanceof Error) || seen.has(e)) continue;
    seen.add(e);
    // A broker error carries its name as `apiId` (e.g. "MESSAGE_TOO_LARGE").
    const { apiId } = e as { apiId?: unknown };
    if (typeof apiId === 'string' && REFUSED_RECORDS.has(apiId)) return apiId;
    if (e instanceof MultipleErrors || e instanceof AggregateError) stack.push(...e.errors);
    stack.push(e.cause);
  }
  return undefined;
}

// One readable line out of the client's nested errors, e.g. "metadata failed 3 times: Cannot
// connect to any broker: Connection to 127.0.0.1:9092 failed: connect ECONNREFUSED …".
function describe(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && parts.length < 5) {
    const e = queue.shift();
    if (!(e instanceof Error) || seen.has(e)) continue;
    seen.add(e);
    const text = e.message.replace(/\.$/, '');
    if (text && !parts.includes(text)) parts.push(text);
    // Retries repeat one error: the last is the freshest.
    if (e instanceof AggregateError && e.errors.length > 0) queue.push(e.errors.at(-1));
    queue.push(e.cause);
  }
  return parts.join(': ') || String(err);
}

import {
  Partitioners,
  logLevel as KafkaLogLevel,
  type ICustomPartitioner,
  type ISocketFactory,
  type LogEntry,
  type Message,
  type Producer,
  type RecordMetadata,
  type RetryOptions,
} from 'kafkajs';
import { withTimeout } from '../async.js';
import type { KafkaConnectionConfig } from '../config/index.js';
import { KafkaPublishError } from '../errors.js';
import type { EventRecord, KafkaReceipt } from '../events/index.js';
import type { Logger } from '../logger.js';
import { createKafkaClient } from './kafka-client.js';
import { isConnectionNoise, isConnectionTrouble, KafkaOutageLog } from './kafka-outage-log.js';
import { createTopicLimitReader, describeTooLarge, isMessageTooLarge } from './too-large.js';

/**
 * The smallest Kafka client surface the pipeline needs. kafkajs is unmaintained and has no
 * batching of its own, so it stays behind this interface: another client can replace it.
 */
export interface EventProducer {
  /** Connect (idempotent; safe to call again). */
  connect(): Promise<void>;
  /**
   * Write records with acks=all. Resolves with one receipt per record, in the order given, or
   * rejects for the whole call. Records of one partition keep their order within a call.
   */
  send(records: EventRecord[]): Promise<KafkaReceipt[]>;
  /** Whether the cluster answers a metadata request. */
  ping?(): Promise<boolean>;
  /** Disconnect; pending sends settle first. */
  disconnect(): Promise<void>;
}

/** Options of {@link createKafkajsProducer}. */
export interface KafkajsProducerOptions {
  /** Logger for kafkajs' own log lines (warnings and errors only). */
  logger?: Logger;
  /**
   * kafkajs retry settings for one send. The idempotent producer defaults to retrying forever;
   * we bound it so that an outage surfaces as a failed job (and a worker cool-down) instead of
   * jobs hanging while holding their locks.
   * @defaultValue `{ retries: 5, initialRetryTime: 300, maxRetryTime: 5000 }`
   */
  retry?: RetryOptions;
  /** @defaultValue `Partitioners.DefaultPartitioner` (murmur2 of the key, as the Java client) */
  createPartitioner?: ICustomPartitioner;
  /** Socket factory passed to kafkajs (TLS tuning, proxies, tests that cut the network). */
  socketFactory?: ISocketFactory;
  /** @defaultValue 3000 ms */
  connectionTimeout?: number;
  /** @defaultValue 30000 ms */
  requestTimeout?: number;
  /** Produce request timeout the broker applies to acks=all. @defaultValue 30000 ms */
  ackTimeoutMs?: number;
  /**
   * A send (connecting included) that has not settled after this long fails, retriable, and the
   * producer is replaced before the next one: a request that never settles would otherwise hold
   * every later send behind it (one request in flight). It is longer than kafkajs' own budget
   * for one send, so it only catches what that budget misses.
   * @defaultValue (retries + 1) × (connectionTimeout + requestTimeout + maxRetryTime)
   */
  sendTimeoutMs?: number;
}

const PARTITION = Symbol('partition');
type TrackedMessage = Message & { [PARTITION]?: number };

/**
 * An {@link EventProducer} over kafkajs: idempotent producer, acks=all, maxInFlightRequests 1
 * (kafkajs' idempotence keeps sequence numbers per partition and is only safe with one request
 * in flight).
 *
 * After a send that failed for good, the underlying producer is replaced before the next send:
 * kafkajs rolls its sequence numbers back on failure, so a new batch could reuse the sequence
 * numbers of a batch the broker did write (ack lost) and be dropped as a "duplicate". A fresh
 * producer id makes that impossible; the cost is that such a batch may then exist twice
 * (at-least-once).
 */
export function createKafkajsProducer(
  config: KafkaConnectionConfig,
  options: KafkajsProducerOptions = {},
): EventProducer {
  const logger = options.logger;
  const retry = options.retry ?? { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 };
  const connectionTimeout = options.connectionTimeout ?? 3000;
  const requestTimeout = options.requestTimeout ?? 30_000;
  const sendTimeoutMs =
    options.sendTimeoutMs ??
    ((retry.retries ?? 5) + 1) *
      (connectionTimeout + requestTimeout + (retry.maxRetryTime ?? 30_000));
  const outage = new KafkaOutageLog(logger, config.brokers);
  const kafka = createKafkaClient(config, {
    connectionTimeout,
    // Also bounds (re)connecting, so a send during an outage fails within the same budget.
    retry,
    requestTimeout,
    ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
    logLevel: logger ? KafkaLogLevel.WARN : KafkaLogLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      // The idempotent producer warns about bounded retries; we bound them on purpose.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const obj = { kafkajs: entry.namespace, ...rest };
      // "Response <api>" lines are one broker response carrying an error code (a coordinator
      // still loading, a topic being auto-created); kafkajs retries those itself, and one that
      // persists surfaces as a failed send. Errors at that level would alarm for nothing.
      const transient = entry.namespace === 'Connection' && message.startsWith('Response ');
      // A broker that is down makes kafkajs log a dozen errors per send (each connection try,
      // each seed broker). They are debug detail: the outage log says it once, at once.
      if (isConnectionNoise(entry)) {
        outage.unreachable(message);
        logger.debug(obj, message);
      } else if (entry.level <= KafkaLogLevel.ERROR && !transient) logger.error(obj, message);
      else logger.warn(obj, message);
    },
  });
  const limitOf = createTopicLimitReader(kafka);
  const basePartitioner = options.createPartitioner ?? Partitioners.DefaultPartitioner;
  // Wrap the partitioner to learn which partition each message went to: kafkajs only reports a
  // base offset per partition, so per-record offsets need the per-record partition.
  const trackingPartitioner: ICustomPartitioner = () => {
    const inner = basePartitioner();
    return (args) => {
      const partition = inner(args);
      (args.message as TrackedMessage)[PARTITION] = partition;
      return partition;
    };
  };
  const newProducer = (): Producer =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry,
      createPartitioner: trackingPartitioner,
    });

  let producer = newProducer();
  let connected: Promise<void> | null = null;
  let broken = false;

  const ensureConnected = async (): Promise<Producer> => {
    if (broken) {
      const old = producer;
      producer = newProducer();
      connected = null;
      broken = false;
      old.disconnect().catch(() => undefined);
    }
    if (!connected) {
      const p = producer;
      connected = p.connect().catch((err: unknown) => {
        connected = null;
        throw err;
      });
    }
    await connected;
    return producer;
  };

  return {
    async connect() {
      await ensureConnected();
    },

    async send(records) {
      if (records.length === 0) return [];
      const byTopic = new Map<string, TrackedMessage[]>();
      const messages: TrackedMessage[] = records.map((r) => {
        const m: TrackedMessage = { key: r.key, value: r.value, headers: r.headers };
        const list = byTopic.get(r.topic);
        if (list) list.push(m);
        else byTopic.set(r.topic, [m]);
        return m;
      });
      let metadata: RecordMetadata[];
      try {
        metadata = await withTimeout(
          ensureConnected().then((p) =>
            p.sendBatch({
              acks: -1,
              timeout: options.ackTimeoutMs ?? 30_000,
              topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
            }),
          ),
          sendTimeoutMs,
          `the send did not settle within ${sendTimeoutMs} ms`,
        );
      } catch (err) {
        broken = true;
        const reason = (err as Error).message;
        if (isConnectionTrouble(reason)) outage.unreachable(reason);
        const message = isMessageTooLarge(err)
          ? await describeTooLarge(records, limitOf)
          : `Kafka produce failed: ${reason}`;
        throw new KafkaPublishError(message, { retriable: isRetriableKafkaError(err), cause: err });
      }
      outage.reachable();
      try {
        return receiptsFor(records, messages, metadata);
      } catch (err) {
        // kafkajs resolved without an answer for some partition: a request of this send failed
        // on the way (a leader died) and kafkajs rolled that partition's sequence numbers back.
        // The broker may still hold that request's batch, so the next batch of the partition
        // would reuse its sequence numbers and be acknowledged as a "duplicate" with the old
        // batch's offsets, unwritten. A fresh producer (a new producer id) rules that out.
        broken = true;
        throw err;
      }
    },

    async ping() {
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.describeCluster();
        outage.reachable();
        return true;
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },

    async disconnect() {
      connected = null;
      // kafkajs waits for a connect in progress; one to a broker that never answers would hold
      // the shutdown for good. Bounded by the same deadline as a send.
      await withTimeout(producer.disconnect(), sendTimeoutMs, 'disconnect timed out').catch(
        (err: unknown) => {
          if ((err as Error).message !== 'disconnect timed out') throw err;
          logger?.warn({ sendTimeoutMs }, 'Kafka producer did not disconnect in time; left behind');
        },
      );
    },
  };
}

/**
 * Offsets per record: kafkajs answers with the base offset of each partition's batch, and the
 * records of a partition were appended in the order they were given. A send that resolved
 * without metadata for a partition it wrote to (seen during partition leader changes on a
 * replicated cluster) left the outcome unknown: retriable, so the job is written again rather
 * than failed (at-least-once; a copy may result).
 */
function receiptsFor(
  records: EventRecord[],
  messages: Array<Message & { [PARTITION]?: number }>,
  metadata: RecordMetadata[],
): KafkaReceipt[] {
  const base = new Map<string, bigint>();
  for (const m of metadata) {
    if (m.baseOffset === undefined) {
      throw new KafkaPublishError(
        `Kafka returned no base offset for ${m.topicName}/${m.partition}`,
        { retriable: true },
      );
    }
    base.set(`${m.topicName}\u0000${m.partition}`, BigInt(m.baseOffset));
  }
  const next = new Map<string, bigint>();
  return records.map((r, i) => {
    const partition = messages[i]?.[PARTITION];
    if (partition === undefined) {
      throw new KafkaPublishError(`Kafka did not report a partition for record ${i}`, {
        retriable: true,
      });
    }
    const k = `${r.topic}\u0000${partition}`;
    const start = base.get(k);
    if (start === undefined) {
      throw new KafkaPublishError(`Kafka returned no metadata for ${r.topic}/${partition}`, {
        retriable: true,
      });
    }
    const offset = next.get(k) ?? start;
    next.set(k, offset + 1n);
    return { topic: r.topic, partition, offset: offset.toString() };
  });
}

/**
 * Whether a failed send may succeed later. kafkajs' retry module gives up by rejecting with a
 * `KafkaJSNonRetriableError` whose `cause` is the real error, e.g. a retriable
 * `KafkaJSConnectionError` while the broker restarts; and "retries exhausted" is non-retriable
 * for kafkajs but not for a job. So the whole cause chain decides: retriable when any link is
 * retriable or is an exhausted retry; not retriable when every kafkajs link says so (a record
 * the broker refuses, e.g. too large).
 */
export function isRetriableKafkaError(err: unknown): boolean {
  const seen = new Set<unknown>();
  let sawVerdict = false;
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const { name, retriable } = e as Error & { retriable?: unknown };
    if (name === 'KafkaJSNumberOfRetriesExceeded' || retriable === true) return true;
    if (retriable === false) sawVerdict = true;
  }
  // Errors that are not kafkajs' (sockets, timeouts of our own) carry no verdict: retry them.
  return !sawVerdict;
}

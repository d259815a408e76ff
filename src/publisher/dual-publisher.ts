import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import {
  parseBatch,
  safeParseEvent,
  toRecord,
  type DualEvent,
  type EventInput,
  type KafkaReceipt,
  type TopicSelector,
} from '../events/index.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import {
  createKafkajsProducer,
  type EventProducer,
  type KafkajsProducerOptions,
} from './event-producer.js';
import { KafkaSink, type KafkaSinkHealth } from './kafka-sink.js';
import { createPlatformaticProducer } from './platformatic-producer.js';
import { createNotifierRedis, RedisNotifier } from './redis-notifier.js';
import { EdgeHistory } from '../realtime/history.js';
import { edgeKeyBase } from '../realtime/keys.js';

/** Where an event went. */
export interface PublishResult {
  id: string;
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string. */
  offset: string;
  /** The event's `source-seq` (with `ORDERING=source`). */
  seq?: number;
  /** Whether the Pub/Sub notification was accepted by Redis (best-effort). */
  notified: boolean;
}

/** Options of {@link DualPublisher}. */
export interface DualPublisherOptions {
  sink: KafkaSink;
  notifier: RedisNotifier;
  /** Topic of every event, or a function of the event. */
  topic: TopicSelector;
  /** @defaultValue 1 MiB */
  maxPayloadBytes?: number;
  metrics?: DualstreamMetrics;
  logger?: Logger;
  /** Closed together with the publisher (connections the factory created). */
  onClose?: () => Promise<void>;
}

/**
 * Publishes events twice: durably to Kafka (through the coalescing {@link KafkaSink}), then an
 * id-only notification to Redis Pub/Sub (best-effort). Usable on its own, without BullMQ.
 */
export class DualPublisher {
  private readonly opts: DualPublisherOptions;
  private closing: Promise<void> | null = null;

  constructor(options: DualPublisherOptions) {
    this.opts = options;
  }

  /** Health of the Kafka path: consecutive failed produce requests. */
  kafkaHealth(): KafkaSinkHealth {
    return this.opts.sink.health;
  }

  /** Validate, write to Kafka, notify. Throws EventValidationError or KafkaPublishError. */
  async publish(input: EventInput | DualEvent): Promise<PublishResult> {
    const event = this.parse(input);
    const receipt = await this.publishToKafka(event);
    const notified = await this.notify(event, receipt);
    return { id: event.id, ...receipt, notified };
  }

  /**
   * Publish many events: all are validated first (an invalid one rejects the whole call before
   * anything is written, naming its index), then written in as few produce requests as the sink
   * allows. Rejects if any Kafka write fails; the others may have been written.
   */
  async publishBatch(inputs: Array<EventInput | DualEvent>): Promise<PublishResult[]> {
    const events = parseBatch(inputs, { maxPayloadBytes: this.opts.maxPayloadBytes });
    const receipts = await Promise.all(events.map((e) => this.publishToKafka(e)));
    const notified = await this.opts.notifier.notifyMany(
      events.map((event, i) => ({ event, receipt: receipts[i]! })),
    );
    return events.map((e, i) => ({ id: e.id, ...receipts[i]!, notified: notified[i] ?? false }));
  }

  /**
   * Write a validated event to Kafka; resolves with its partition and offset (and `seq`, when
   * one is given: it goes into the `source-seq` header). The record is queued synchronously.
   */
  async publishToKafka(event: DualEvent, seq?: number): Promise<KafkaReceipt> {
    const receipt = await this.opts.sink.publish(toRecord(event, this.opts.topic, seq));
    return seq === undefined ? receipt : { ...receipt, seq };
  }

  /** See {@link KafkaSink.onKeysFailed}: which source keys a failed produce request carried. */
  onKafkaKeysFailed(listener: (keys: ReadonlySet<string>) => void): void {
    this.opts.sink.onKeysFailed(listener);
  }

  /** Send the Pub/Sub notification of a published event. Never rejects. */
  notify(event: DualEvent, receipt: KafkaReceipt): Promise<boolean> {
    return this.opts.notifier.notify(event, receipt);
  }

  /** Whether Kafka and the Pub/Sub Redis answer. */
  async ping(): Promise<{ kafka: boolean; pubsub: boolean }> {
    const [kafka, pubsub] = await Promise.all([this.opts.sink.ping(), this.opts.notifier.ping()]);
    return { kafka, pubsub };
  }

  /** Flush pending Kafka writes and notifications, then disconnect. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opts.sink.close();
      await this.opts.notifier.close();
      await this.opts.onClose?.();
    })();
    return this.closing;
  }

  private parse(input: EventInput | DualEvent): DualEvent {
    const r = safeParseEvent(input, { maxPayloadBytes: this.opts.maxPayloadBytes });
    if (!r.success) {
      this.opts.metrics?.eventsRejected.inc({ entry: 'api' });
      throw r.error;
    }
    this.opts.metrics?.eventsAccepted.inc({ entry: 'api' });
    return r.event;
  }
}

/** Dependencies of {@link createDualPublisher}; anything omitted is built from the config. */
export interface DualPublisherDeps {
  logger?: Logger;
  metrics?: DualstreamMetrics;
  /** Kafka client; default a producer of `config.kafka.client` from `config.kafka`. */
  producer?: EventProducer;
  /** Options of the default kafkajs producer (retry, socket factory, ...), with `KAFKA_CLIENT=kafkajs`. */
  producerOptions?: KafkajsProducerOptions;
  /** Pub/Sub Redis; default a new connection to `config.redis.pubsubUrl` (owned and closed). */
  pubsub?: Redis;
  /** @defaultValue `config.kafka.topic` */
  topic?: TopicSelector;
  /** Produce requests in flight at once. @defaultValue 1 */
  maxConcurrentSends?: number;
  /** Pub/Sub pipeline timeout. @defaultValue 1000 ms */
  notifyTimeoutMs?: number;
}

/** Build a {@link DualPublisher} from the configuration. */
export function createDualPublisher(
  config: DualstreamConfig,
  deps: DualPublisherDeps = {},
): DualPublisher {
  const { logger, metrics } = deps;
  const producer =
    deps.producer ??
    (config.kafka.client === 'platformatic'
      ? createPlatformaticProducer(config.kafka, logger ? { logger } : {})
      : createKafkajsProducer(config.kafka, {
          ...(logger ? { logger } : {}),
          ...deps.producerOptions,
        }));
  const sink = new KafkaSink({
    producer,
    lingerMs: config.kafka.lingerMs,
    batchMaxCount: config.kafka.batchMaxCount,
    batchMaxBytes: config.kafka.batchMaxBytes,
    maxInflightBytes: config.kafka.maxInflightBytes,
    orderedKeys: config.order.mode === 'source',
    ...(deps.maxConcurrentSends ? { maxConcurrentSends: deps.maxConcurrentSends } : {}),
    ...(metrics ? { metrics } : {}),
    ...(logger ? { logger } : {}),
  });
  const redis =
    deps.pubsub ??
    // Fail fast: a notification is best-effort and must not hold a job while Redis is away.
    createNotifierRedis(config.redis.pubsubUrl);
  const h = config.edge.history;
  const notifier = new RedisNotifier({
    redis,
    channelPrefix: config.events.channelPrefix,
    ...(h.enabled
      ? {
          history: new EdgeHistory(edgeKeyBase(config.redis.prefix, config.events.channelPrefix), {
            maxEvents: h.maxEvents,
            maxBytes: h.maxBytes,
            maxAgeMs: h.maxAgeMs,
            typeMaxEvents: h.typeMaxEvents,
          }),
        }
      : {}),
    ownsConnection: deps.pubsub === undefined,
    ...(deps.notifyTimeoutMs ? { timeoutMs: deps.notifyTimeoutMs } : {}),
    ...(logger ? { logger } : {}),
    ...(metrics ? { metrics } : {}),
  });
  return new DualPublisher({
    sink,
    notifier,
    topic: deps.topic ?? config.kafka.topic,
    maxPayloadBytes: config.events.maxPayloadBytes,
    ...(metrics ? { metrics } : {}),
    ...(logger ? { logger } : {}),
  });
}

import type { DualEvent } from './schema.js';
import { KAFKA_HEADERS, channelFor, kafkaHeadersFor, sourceKey } from './naming.js';

/** Where Kafka put a record. */
export interface KafkaReceipt {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  /** The event's source sequence number (`source-seq`), when ordering is on. */
  seq?: number;
}

/** A Kafka record ready to send. */
export interface EventRecord {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** The id-only Pub/Sub message: never the payload. */
export interface EventNotification {
  id: string;
  type: string;
  source_type: string;
  source_id: string;
  topic: string;
  partition: number;
  offset: string;
  /** The event's source sequence number, when ordering is on: 1, 2, 3, … per source. */
  seq?: number;
}

/** Topic of an event: a fixed name or a function of the event. */
export type TopicSelector = string | ((event: DualEvent) => string);

/**
 * Build the Kafka record of an event: key = `sourceType:sourceId`, value = the event as JSON,
 * and the `source-seq` header when a seq is given.
 */
export function toRecord(event: DualEvent, topic: TopicSelector, seq?: number): EventRecord {
  const headers = kafkaHeadersFor(event);
  if (seq !== undefined) headers[KAFKA_HEADERS.sourceSeq] = String(seq);
  return {
    topic: typeof topic === 'function' ? topic(event) : topic,
    key: sourceKey(event),
    value: JSON.stringify(event),
    headers,
  };
}

/** Build the notification of a published event. */
export function toNotification(event: DualEvent, receipt: KafkaReceipt): EventNotification {
  return {
    id: event.id,
    type: event.type,
    source_type: event.sourceType,
    source_id: event.sourceId,
    topic: receipt.topic,
    partition: receipt.partition,
    offset: receipt.offset,
    ...(receipt.seq !== undefined ? { seq: receipt.seq } : {}),
  };
}

/** Channel and message of a notification, ready to PUBLISH. */
export function notificationMessage(
  event: DualEvent,
  receipt: KafkaReceipt,
  channelPrefix?: string,
): { channel: string; message: string } {
  return {
    channel: channelFor(event, channelPrefix),
    message: JSON.stringify(toNotification(event, receipt)),
  };
}

/** Decode a Kafka record value back into an event (no validation: the producer validated it). */
export function decodeEvent(value: Buffer | string): DualEvent {
  return JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as DualEvent;
}

import type { DualEvent } from './schema.js';

/** Default Pub/Sub channel prefix. */
export const DEFAULT_CHANNEL_PREFIX = 'events';

/** Pub/Sub channel of an event's source: `<prefix>:<sourceType>:<sourceId>`. */
export function channelFor(
  source: Pick<DualEvent, 'sourceType' | 'sourceId'>,
  prefix: string = DEFAULT_CHANNEL_PREFIX,
): string {
  return `${prefix}:${source.sourceType}:${source.sourceId}`;
}

/**
 * The source as one string, `sourceType:sourceId`. It is the Kafka record key (so all events of a
 * source land in one partition, in order) and the `source` header.
 */
export function sourceKey(source: Pick<DualEvent, 'sourceType' | 'sourceId'>): string {
  return `${source.sourceType}:${source.sourceId}`;
}

/** Reserved Kafka header names set on every record. */
export const KAFKA_HEADERS = {
  eventId: 'event-id',
  eventType: 'event-type',
  source: 'source',
  /** The event's number within its source (1, 2, 3, … without gaps), when ordering is on. */
  sourceSeq: 'source-seq',
} as const;

/** Kafka headers of an event: user headers first, the reserved ones always win. */
export function kafkaHeadersFor(event: DualEvent): Record<string, string> {
  return {
    ...(event.headers ?? {}),
    [KAFKA_HEADERS.eventId]: event.id,
    [KAFKA_HEADERS.eventType]: event.type,
    [KAFKA_HEADERS.source]: sourceKey(event),
  };
}

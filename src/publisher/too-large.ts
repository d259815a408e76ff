import kafkajs, { type Kafka } from 'kafkajs';

// kafkajs is CommonJS: its enums are reachable through the default export only.
const { ConfigResourceTypes } = kafkajs;
import type { EventRecord } from '../events/index.js';

/** Whether kafkajs' error chain carries the broker's MESSAGE_TOO_LARGE. */
export function isMessageTooLarge(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if ((e as { type?: unknown }).type === 'MESSAGE_TOO_LARGE') return true;
  }
  return false;
}

/** Bytes of a record as the producer sends them: key, value, header names and values. */
export function recordBytes(r: EventRecord): number {
  let n = Buffer.byteLength(r.key) + Buffer.byteLength(r.value);
  for (const [k, v] of Object.entries(r.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Reads a topic's `max.message.bytes`, cached briefly so a burst of failures asks once. */
export function createTopicLimitReader(kafka: Kafka, cacheMs = 10_000) {
  const cache = new Map<string, { at: number; limit: Promise<number | string> }>();
  const read = async (topic: string): Promise<number | string> => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const res = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] },
        ],
      });
      const value = res.resources[0]?.configEntries.find(
        (c) => c.configName === 'max.message.bytes',
      )?.configValue;
      return value !== undefined && /^\d+$/.test(value) ? Number(value) : 'unknown';
    } catch (err) {
      return `unknown (${(err as Error).message})`;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };
  return (topic: string): Promise<number | string> => {
    const hit = cache.get(topic);
    if (hit && Date.now() - hit.at < cacheMs) return hit.limit;
    const limit = read(topic);
    cache.set(topic, { at: Date.now(), limit });
    return limit;
  };
}

/**
 * The reason an operator reads when the broker refused a produce request as too large: which
 * topic, how big the records were, and the topic's limit.
 */
export async function describeTooLarge(
  records: EventRecord[],
  limitOf: (topic: string) => Promise<number | string>,
): Promise<string> {
  const byTopic = new Map<string, number[]>();
  for (const r of records) {
    const sizes = byTopic.get(r.topic) ?? [];
    sizes.push(recordBytes(r));
    byTopic.set(r.topic, sizes);
  }
  const parts = await Promise.all(
    [...byTopic].map(async ([topic, sizes]) => {
      const limit = await limitOf(topic);
      const largest = Math.max(...sizes);
      const size =
        sizes.length === 1
          ? `record of ${largest} bytes`
          : `${sizes.length} records of ${sizes.reduce((a, b) => a + b, 0)} bytes together (largest ${largest})`;
      const max = typeof limit === 'number' ? `${limit} bytes` : limit;
      return `topic "${topic}": ${size}, the topic's max message size (max.message.bytes) is ${max}`;
    }),
  );
  return `Kafka refused the record as too large: ${parts.join('; ')}. Raise max.message.bytes or send smaller events`;
}

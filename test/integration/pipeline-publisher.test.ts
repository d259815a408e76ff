// DualPublisher without BullMQ, against the real broker and Redis: coalesced produce requests
// still give each caller the partition and offset its record really has.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventValidationError } from '../../src/errors.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import {
  collectPubSub,
  createTopic,
  deleteTopics,
  readTopic,
  testConfig,
  waitFor,
} from '../helpers/pipeline-kit.js';

describe('DualPublisher against Kafka and Redis', () => {
  const config = testConfig({ KAFKA_LINGER_MS: '20', KAFKA_BATCH_MAX_COUNT: '50' });
  const topicB = `${config.kafka.topic}-b`;
  const metrics = new DualstreamMetrics();
  let publisher: ReturnType<typeof createDualPublisher>;
  let pubsub: Awaited<ReturnType<typeof collectPubSub>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 4);
    await createTopic(topicB, 2);
    pubsub = await collectPubSub(`${config.events.channelPrefix}:*`);
    publisher = createDualPublisher(config, {
      metrics,
      // Events of type `b` go to a second topic: one produce request spans both topics.
      topic: (e) => (e.type === 'b' ? topicB : config.kafka.topic),
    });
  });

  afterAll(async () => {
    await publisher?.close();
    await pubsub?.close();
    await deleteTopics(config.kafka.topic, topicB);
  });

  it('resolves each concurrent publish with the partition and offset of its own record', async () => {
    const inputs = Array.from({ length: 120 }, (_, i) => ({
      id: `pub-${i}`,
      type: i % 3 === 0 ? 'b' : 'a',
      sourceType: 'user',
      sourceId: `u${i % 7}`,
      payload: { i },
    }));
    const results = await Promise.all(inputs.map((e) => publisher.publish(e)));
    expect(results.every((r) => r.notified)).toBe(true);
    const batch = await publisher.publishBatch(
      Array.from({ length: 30 }, (_, i) => ({
        id: `batch-${i}`,
        type: 'a',
        sourceType: 'user',
        sourceId: 'batcher',
      })),
    );
    const all = [...results, ...batch];
    const records = [...(await readTopic(config.kafka.topic)), ...(await readTopic(topicB))];
    expect(records).toHaveLength(150);
    const where = new Map(records.map((r) => [r.headers['event-id'], r]));
    for (const r of all) {
      const rec = where.get(r.id);
      expect(rec, r.id).toBeDefined();
      expect(r.topic).toBe(
        r.id.startsWith('pub-') && Number(r.id.slice(4)) % 3 === 0 ? topicB : config.kafka.topic,
      );
      expect({ partition: r.partition, offset: r.offset }).toEqual({
        partition: rec!.partition,
        offset: rec!.offset,
      });
    }
    // Coalescing happened: far fewer produce requests than records, none above batchMaxCount.
    const sizes = (await metrics.produceBatchSize.get()).values;
    const count = sizes.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(150);
    const le50 = sizes.find((v) => v.metricName?.endsWith('_bucket') && v.labels.le === 50)?.value;
    expect(le50).toBe(count);
    await waitFor(() => pubsub.messages.length === 150, 5000, 'notifications');
  });

  it('publishBatch validates everything first and names the bad index', async () => {
    const err = await publisher
      .publishBatch([
        { type: 'a', sourceType: 'user', sourceId: 'fine' },
        { type: 'a', sourceType: 'user', sourceId: 'bad id' },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventValidationError);
    expect((err as Error).message).toMatch(/^Invalid event: \[1\]\.sourceId: /);
  });

  it('pings Kafka and the Pub/Sub Redis', async () => {
    expect(await publisher.ping()).toEqual({ kafka: true, pubsub: true });
  });
});

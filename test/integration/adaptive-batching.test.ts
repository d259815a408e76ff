// Adaptive batching against the real broker (the default, KAFKA_LINGER_MS=0): a lone event is
// sent at once instead of waiting for a linger window, and a burst still shares produce requests.
// The bounds are generous on purpose; this is not a timing benchmark (that is `npm run bench`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import { createTopic, deleteTopics, readTopic, testConfig } from '../helpers/pipeline-kit.js';

// A linger twice the bounds below: waiting for it would be unmistakable.
const LONG_LINGER_MS = 10_000; // the largest KAFKA_LINGER_MS allowed

async function histogram(metrics: DualstreamMetrics, name: string) {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  const v = (suffix: string) =>
    m.values.find((x) => (x as { metricName?: string }).metricName === `${name}${suffix}`)?.value ??
    0;
  return { sum: v('_sum'), count: v('_count') };
}

describe('adaptive batching against Kafka', () => {
  const adaptive = testConfig({ KAFKA_LINGER_MS: '0' });
  const lingering = testConfig({ KAFKA_LINGER_MS: String(LONG_LINGER_MS) });
  const metrics = new DualstreamMetrics();
  let fast: ReturnType<typeof createDualPublisher>;
  let slow: ReturnType<typeof createDualPublisher>;

  beforeAll(async () => {
    await createTopic(adaptive.kafka.topic, 3);
    await createTopic(lingering.kafka.topic, 1);
    fast = createDualPublisher(adaptive, { metrics });
    slow = createDualPublisher(lingering);
  });

  afterAll(async () => {
    await fast?.close();
    await slow?.close();
    await deleteTopics(adaptive.kafka.topic, lingering.kafka.topic);
  });

  const event = (id: string, sourceId = 'solo') => ({
    id,
    type: 'push',
    sourceType: 'repo',
    sourceId,
  });

  it('sends a lone event without waiting for a linger window', async () => {
    // Warm the connection so that the measured publish is one produce request.
    await fast.publish(event('warm-up'));
    const started = Date.now();
    const result = await fast.publish(event('lone-1'));
    expect(Date.now() - started).toBeLessThan(5000);
    const records = await readTopic(adaptive.kafka.topic);
    expect(records.find((r) => r.headers['event-id'] === 'lone-1')).toMatchObject({
      partition: result.partition,
      offset: result.offset,
    });
  });

  it('the same publish with a fixed linger window is still waiting after that bound', async () => {
    let settled = false;
    const pending = slow.publish(event('lingering-1')).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5000));
    expect(settled).toBe(false);
    // close() flushes: the event is written, not dropped.
    await slow.close();
    await expect(pending).resolves.toMatchObject({ id: 'lingering-1' });
  });

  it('a burst still shares produce requests', async () => {
    const before = await histogram(metrics, 'dualstream_kafka_batch_records');
    const burst = Array.from({ length: 300 }, (_, i) => event(`burst-${i}`, `s-${i % 10}`));
    await Promise.all(burst.map((e) => fast.publish(e)));
    const after = await histogram(metrics, 'dualstream_kafka_batch_records');
    const requests = after.count - before.count;
    expect(after.sum - before.sum).toBe(300);
    // One request when the burst is queued in one turn; never one request per event.
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBeLessThan(30);
  });
});

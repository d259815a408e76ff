// KAFKA_CLIENT=platformatic against the real broker: exact receipts (every record found at the
// partition and offset it was given), the same partition per key as kafkajs (a source keeps its
// partition when the client changes), a too-large record refused for good with a readable
// reason, an unreachable broker failing retriably, and the whole publish pipeline on this client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublishError } from '../../src/errors.js';
import type { EventRecord } from '../../src/events/index.js';
import {
  createKafkajsProducer,
  createPlatformaticProducer,
  partitionFor,
  type EventProducer,
} from '../../src/publisher/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import { createLimitedTopic } from '../helpers/server-kit.js';
import {
  BROKERS,
  closedPort,
  collectPubSub,
  createTopic,
  deleteTopics,
  readTopic,
  teardownPipeline,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';

const connection = { brokers: BROKERS.split(','), clientId: 'platformatic-test', ssl: false };

describe('the @platformatic/kafka producer', () => {
  const topic = uniq('plat');
  const small = uniq('plat-small');
  let producer: EventProducer;
  let kafkajs: EventProducer;

  beforeAll(async () => {
    await createTopic(topic, 6);
    await createLimitedTopic(small, 1024);
    producer = createPlatformaticProducer(connection);
    kafkajs = createKafkajsProducer(connection);
  });
  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await kafkajs?.disconnect().catch(() => undefined);
    await deleteTopics(topic, small);
  });

  const record = (key: string, i: number, t = topic): EventRecord => ({
    topic: t,
    key,
    value: JSON.stringify({ i }),
    headers: { 'event-id': `e-${key}-${i}` },
  });

  it('gives every record its own partition and offset, as the broker stored it', async () => {
    const keys = Array.from({ length: 12 }, (_, k) => `repo:o/r-${k}`);
    const records = Array.from({ length: 120 }, (_, i) => record(keys[i % keys.length]!, i));
    const receipts = [
      ...(await producer.send(records.slice(0, 60))),
      ...(await producer.send(records.slice(60))),
    ];
    expect(receipts).toHaveLength(120);
    const stored = await readTopic(topic);
    const byId = new Map(stored.map((r) => [r.headers['event-id'], r]));
    records.forEach((r, i) => {
      const s = byId.get(r.headers['event-id']);
      expect(s, r.headers['event-id']).toBeDefined();
      expect(receipts[i]).toEqual({ topic, partition: s!.partition, offset: s!.offset });
      expect(s!.key).toBe(r.key);
    });
    // More than one partition was used, so offsets were told apart per partition.
    expect(new Set(receipts.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('puts a key on the same partition as kafkajs does', async () => {
    const keys = Array.from({ length: 30 }, (_, k) => `repo:owner/name-${k * 7919}`);
    const viaPlatformatic = await producer.send(keys.map((k, i) => record(k, 1000 + i)));
    const viaKafkajs = await kafkajs.send(keys.map((k, i) => record(k, 2000 + i)));
    expect(viaPlatformatic.map((r) => r.partition)).toEqual(viaKafkajs.map((r) => r.partition));
    expect(viaPlatformatic.map((r) => r.partition)).toEqual(keys.map((k) => partitionFor(k, 6)));
  });

  it('refuses a too-large record for good, naming the topic, its size and the limit', async () => {
    const big = { ...record('repo:big', 1, small), value: 'x'.repeat(3000) };
    const err = await producer.send([big]).then(
      () => undefined,
      (e: unknown) => e as KafkaPublishError,
    );
    expect(err).toBeInstanceOf(KafkaPublishError);
    expect(err?.retriable).toBe(false);
    expect(err?.message).toMatch(
      new RegExp(`topic "${small}": record of \\d+ bytes, .*max.message.bytes\\) is 1024 bytes`),
    );
    // The producer is replaced after a failure and goes on.
    await expect(producer.send([record('repo:after', 1)])).resolves.toHaveLength(1);
  });

  it('fails retriably when no broker answers', async () => {
    const port = await closedPort();
    const dead = createPlatformaticProducer(
      { ...connection, brokers: [`127.0.0.1:${port}`] },
      { retries: 2, retryDelayMs: 50, connectTimeoutMs: 500, requestTimeoutMs: 2000 },
    );
    try {
      const err = await dead.send([record('repo:x', 1)]).then(
        () => undefined,
        (e: unknown) => e as KafkaPublishError,
      );
      expect(err).toBeInstanceOf(KafkaPublishError);
      expect(err?.retriable).toBe(true);
      expect(err?.message).toMatch(/^Kafka produce failed: /);
      expect(await dead.ping?.()).toBe(false);
    } finally {
      await dead.disconnect().catch(() => undefined);
    }
  });
});

describe('publish pipeline with KAFKA_CLIENT=platformatic', () => {
  const config = testConfig({ KAFKA_CLIENT: 'platformatic', WORKER_CONCURRENCY: '32' });
  const queue = createPublishQueue(config);
  let worker: ReturnType<typeof createPublishWorker>;
  let pubsub: Awaited<ReturnType<typeof collectPubSub>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 3);
    pubsub = await collectPubSub(`${config.events.channelPrefix}:*`);
    worker = createPublishWorker(config, { drainDelay: 1 });
  });
  afterAll(() => teardownPipeline(config, worker, pubsub, queue));

  it('publishes every event once, in source order, with a gap-free seq', async () => {
    const events = Array.from({ length: 200 }, (_, i) => ({
      id: `pl-${i}`,
      type: 'push',
      sourceType: 'repo',
      sourceId: `s-${i % 5}`,
      payload: { n: i },
    }));
    await enqueueEvents(queue, events);
    await waitFor(
      async () => (await queue.getJobCountByTypes('completed')) === events.length,
      30_000,
      'all jobs completed',
    );
    const records = await readTopic(config.kafka.topic);
    expect(records).toHaveLength(events.length);
    const bySource = new Map<string, Array<{ n: number; seq: number; offset: bigint }>>();
    for (const r of records) {
      const list = bySource.get(r.key) ?? [];
      const e = JSON.parse(r.value) as { payload: { n: number } };
      list.push({ n: e.payload.n, seq: Number(r.headers['source-seq']), offset: BigInt(r.offset) });
      bySource.set(r.key, list);
    }
    expect(bySource.size).toBe(5);
    for (const list of bySource.values()) {
      list.sort((a, b) => (a.offset < b.offset ? -1 : 1));
      expect(list.map((x) => x.seq)).toEqual(list.map((_, i) => i + 1));
      const ns = list.map((x) => x.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
    await waitFor(() => pubsub.messages.length >= events.length, 10_000, 'notifications');
  });
});

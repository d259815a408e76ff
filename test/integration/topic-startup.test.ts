// The worker's start-up step creates its topic when missing, with the configured partitions;
// an existing topic is left alone; with KAFKA_CREATE_TOPIC=0 nothing is created; a dead broker
// does not stop start-up.
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopicAtStartup } from '../../src/publisher/topic-admin.js';
import { silentLogger } from '../../src/logger.js';
import { BROKERS, closedPort, deleteTopics, testConfig, uniq } from '../helpers/pipeline-kit.js';

const admin = new Kafka({
  clientId: 'topic-startup-test',
  brokers: BROKERS.split(','),
  logLevel: logLevel.NOTHING,
}).admin();

describe('topic creation at worker start-up', () => {
  const topics: string[] = [];
  afterAll(async () => {
    await admin.disconnect();
    await deleteTopics(...topics);
  });

  it('creates a missing topic with KAFKA_TOPIC_PARTITIONS, then leaves it as it is', async () => {
    const config = testConfig({ KAFKA_TOPIC_PARTITIONS: '4' });
    topics.push(config.kafka.topic);
    const first = await ensureTopicAtStartup(config, silentLogger());
    expect(first).toMatchObject({ outcome: 'created', partitions: 4, replicationFactor: 1 });
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [config.kafka.topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(4);

    const again = await ensureTopicAtStartup(
      { ...config, kafka: { ...config.kafka, topicCreation: { enabled: true, partitions: 8 } } },
      silentLogger(),
    );
    expect(again).toEqual({ outcome: 'exists', topic: config.kafka.topic, partitions: 4 });
  });

  it('creates nothing with KAFKA_CREATE_TOPIC=0, and does not throw when Kafka is down', async () => {
    const off = testConfig({ KAFKA_CREATE_TOPIC: '0', KAFKA_TOPIC: uniq('never-created') });
    expect(await ensureTopicAtStartup(off, silentLogger())).toBeUndefined();
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(off.kafka.topic);

    const down = testConfig({ KAFKA_BROKERS: `127.0.0.1:${await closedPort()}` });
    expect(await ensureTopicAtStartup(down, silentLogger())).toBeUndefined();
  });
});

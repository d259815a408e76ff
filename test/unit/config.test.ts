import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/index.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to throw ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.redis.pubsubUrl).toBe(c.redis.url);
    expect(c.queue.name).toBe('dualstream-publish');
    expect(c.kafka.topic).toBe('events');
    expect(c.ownership).toMatchObject({
      service: 'dualstream',
      lockTtlMs: 2000,
      sweepIntervalMs: 5000,
    });
    expect(c.ownership.extendIntervalMs).toBe(666);
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 3000, insecure: false });
  });

  it('parses lists, numbers and booleans', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'a.example:9092, 10.0.0.2:9093',
      WORKER_CONCURRENCY: '12',
      DUALSTREAM_INSECURE: 'true',
      PUBSUB_REDIS_URL: 'redis://127.0.0.1:6380/2',
      EXTRA_QUEUES: 'a, b,,c',
    });
    expect(c.kafka.brokers).toEqual(['a.example:9092', '10.0.0.2:9093']);
    expect(c.queue.concurrency).toBe(12);
    expect(c.server.insecure).toBe(true);
    expect(c.redis.pubsubUrl).toBe('redis://127.0.0.1:6380/2');
    expect(c.server.extraQueues).toEqual(['a', 'b', 'c']);
  });

  it('leaves the standalone metrics port off unless METRICS_PORT is set', () => {
    expect(loadConfig({}).server.metricsPort).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '9464' }).server.metricsPort).toBe(9464);
    expect(configError({ METRICS_PORT: '70000' }).issues[0]?.variable).toBe('METRICS_PORT');
  });

  it('lets overrides (CLI flags) win over the environment', () => {
    const c = loadConfig({ PORT: '4000' }, { PORT: '5000' });
    expect(c.server.port).toBe(5000);
  });

  it('names the variable and the bad value for a broker that is not host:port', () => {
    const err = configError({ KAFKA_BROKERS: 'not a broker' });
    expect(err.issues[0]?.variable).toBe('KAFKA_BROKERS');
    expect(err.message).toContain('KAFKA_BROKERS');
    expect(err.message).toContain('host:port');
    expect(err.message).toContain('"not a broker"');
  });

  it('reports every bad variable at once', () => {
    const err = configError({ PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' });
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['LOG_LEVEL', 'PORT', 'REDIS_URL']);
  });

  it('checks settings that only make sense together', () => {
    expect(configError({ BOARD_USER: 'admin' }).issues[0]?.variable).toBe('BOARD_PASSWORD');
    expect(configError({ LOCK_TTL_MS: '1000', LOCK_EXTEND_MS: '1500' }).issues[0]?.variable).toBe(
      'LOCK_EXTEND_MS',
    );
    expect(configError({ KAFKA_SASL_MECHANISM: 'plain' }).message).toContain('KAFKA_SASL_PASSWORD');
  });
});

describe('loadConfig on clusters', () => {
  const cluster = 'redis+cluster://127.0.0.1:17000,127.0.0.1:17001';

  it('takes a redis+cluster:// URL with a hash-tagged prefix, and KAFKA_TOPIC_MIN_ISR', () => {
    const c = loadConfig({
      REDIS_URL: cluster,
      DUALSTREAM_PREFIX: '{dualstream}',
      KAFKA_TOPIC_REPLICATION: '3',
      KAFKA_TOPIC_MIN_ISR: '2',
    });
    expect(c.redis).toMatchObject({ url: cluster, pubsubUrl: cluster, prefix: '{dualstream}' });
    expect(c.kafka.topicCreation).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('refuses a cluster URL without a hash tag in DUALSTREAM_PREFIX, naming the variable', () => {
    const err = configError({ REDIS_URL: cluster });
    expect(err.issues.map((i) => i.variable)).toEqual(['DUALSTREAM_PREFIX']);
    expect(err.issues[0]?.message).toContain('{bull}');
  });

  it('refuses a Pub/Sub cluster URL without a hash tag while the edge history is on', () => {
    const err = configError({ PUBSUB_REDIS_URL: cluster });
    expect(err.issues.map((i) => i.variable)).toEqual(['DUALSTREAM_PREFIX']);
    expect(err.issues[0]?.message).toContain('PUBSUB_REDIS_URL');
    const off = loadConfig({ PUBSUB_REDIS_URL: cluster, HISTORY_ENABLED: 'false' });
    expect(off.redis.pubsubUrl).toBe(cluster);
    const tagged = loadConfig({ PUBSUB_REDIS_URL: cluster, DUALSTREAM_PREFIX: '{bull}' });
    expect(tagged.edge.history.enabled).toBe(true);
  });

  it('refuses malformed cluster URLs and prefixes with more than one hash tag', () => {
    expect(configError({ REDIS_URL: 'redis+cluster://' }).issues[0]?.variable).toBe('REDIS_URL');
    expect(configError({ REDIS_URL: 'redis+cluster://h1' }).issues[0]?.variable).toBe('REDIS_URL');
    expect(configError({ DUALSTREAM_PREFIX: '{a}{b}' }).issues[0]?.variable).toBe(
      'DUALSTREAM_PREFIX',
    );
  });
});

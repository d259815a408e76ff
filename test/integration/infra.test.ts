// The local infrastructure against the real broker and Redis that test/global-setup.ts provides.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Kafka, Partitioners, logLevel, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infraDown, infraUp, killKafka, probeKafka, startKafka } from '../../scripts/infra.mjs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = randomUUID().slice(0, 8);

function kafkaClient(brokerList: string[]): Kafka {
  return new Kafka({
    clientId: `infra-test-${runId}`,
    brokers: brokerList,
    logLevel: logLevel.NOTHING,
  });
}

/** A TCP server that is not Kafka: `silent` never answers, otherwise it replies like HTTP. */
async function startImpostor(
  silent: boolean,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (!silent) socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Kafka broker', () => {
  const kafka = kafkaClient(brokers);
  const admin = kafka.admin();
  const topic = `dualstream-infra-test-${runId}`;

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('creates a topic, produces and consumes keyed messages with headers in a group', async () => {
    expect(
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }),
    ).toBe(true);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(2);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sent = ['a', 'b', 'c'].map((key, i) => ({
      key,
      value: JSON.stringify({ i }),
      headers: { 'x-run': runId, 'x-index': String(i) },
    }));
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const groupId = `dualstream-infra-test-${runId}`;
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: KafkaMessage[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for messages')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            received.push(message);
            if (received.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }

    const byKey = new Map(received.map((m) => [m.key?.toString(), m]));
    for (const [i, message] of sent.entries()) {
      const got = byKey.get(message.key);
      expect(got?.value?.toString()).toBe(JSON.stringify({ i }));
      expect(got?.headers?.['x-run']?.toString()).toBe(runId);
      expect(got?.headers?.['x-index']?.toString()).toBe(String(i));
    }
    const groups = await admin.listGroups();
    expect(groups.groups.map((g) => g.groupId)).toContain(groupId);
    await admin.deleteGroups([groupId]);
  });

  it('answers the raw ApiVersions probe', async () => {
    const [host = '127.0.0.1', port = '9092'] = (brokers[0] ?? '').split(':');
    expect((await probeKafka(host, Number(port))).state).toBe('kafka');
  });
});

describe('Redis', () => {
  it('delivers PUBLISH to a SUBSCRIBE on a unique channel', async () => {
    const channel = `dualstream:infra-test:${runId}`;
    const subscriber = new Redis(redisUrl);
    const publisher = new Redis(redisUrl);
    try {
      const message = new Promise<string>((resolve) => {
        subscriber.on('message', (ch: string, payload: string) => {
          if (ch === channel) resolve(payload);
        });
      });
      await subscriber.subscribe(channel);
      expect(await publisher.publish(channel, 'hello')).toBe(1);
      expect(await message).toBe('hello');
    } finally {
      subscriber.disconnect();
      publisher.disconnect();
    }
  });
});

describe('infraUp', () => {
  it('is idempotent: a second call reuses the running broker and Redis quickly', async () => {
    const first = await infraUp({ quiet: true });
    const started = Date.now();
    const second = await infraUp({ quiet: true });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(first.kafka?.reused).toBe(true);
    expect(second.kafka?.reused).toBe(true);
    expect(second.kafka?.startMs).toBe(0);
    expect(second.redis?.reused).toBe(true);
  });

  it.each([
    ['a silent server', true],
    ['an HTTP-like server', false],
  ])('refuses a Kafka port held by %s, naming the port', async (_name, silent) => {
    const impostor = await startImpostor(silent);
    try {
      expect((await probeKafka('127.0.0.1', impostor.port, 1_000)).state).toBe('other');
      await expect(
        infraUp({ kafkaBrokers: `127.0.0.1:${impostor.port}`, redis: false, quiet: true }),
      ).rejects.toThrow(new RegExp(`Port ${impostor.port} .*held by something that is not Kafka`));
    } finally {
      await impostor.close();
    }
  });
});

// Starts a second, private broker (5-10 s of a CPU core) so that the shared one is never killed.
describe('killKafka/startKafka', () => {
  const port = Number(process.env.DUALSTREAM_INFRA_RESTART_PORT ?? 19292);
  const runDir = mkdtempSync(path.join(tmpdir(), 'dualstream-infra-'));
  const opts = { kafkaBrokers: `127.0.0.1:${port}`, runDir, redis: false, quiet: true };

  afterAll(async () => {
    await infraDown({ ...opts, clean: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  it('keeps topics and messages across a kill -9 and restart', { timeout: 180_000 }, async () => {
    const up = await infraUp(opts);
    expect(up.kafka?.reused).toBe(false);
    expect(up.kafka?.formatted).toBe(true);

    const kafka = kafkaClient([`127.0.0.1:${port}`]);
    const topic = `dualstream-restart-${runId}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'kept' }] });
    await producer.disconnect();
    await admin.disconnect();

    const killed = await killKafka(opts);
    expect(killed.signal).toBe('SIGKILL');
    expect((await probeKafka('127.0.0.1', port, 500)).state).toBe('closed');

    const restarted = await startKafka(opts);
    expect(restarted.reused).toBe(false);
    expect(restarted.formatted).toBe(false);

    const admin2 = kafka.admin();
    await admin2.connect();
    try {
      expect(await admin2.listTopics()).toContain(topic);
      const offsets = await admin2.fetchTopicOffsets(topic);
      expect(offsets[0]?.high).toBe('1');
    } finally {
      await admin2.disconnect();
    }
  });
});

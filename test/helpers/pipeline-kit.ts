// Helpers for the pipeline tests: unique names, per-test topics, reading a topic to its end with a
// fresh consumer, collecting Pub/Sub messages, and a socket factory that cuts the network between
// the client and the real broker.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { loadConfig, type DualstreamConfig, type EnvInput } from '../../src/config/index.js';
import { removeOrderState } from '../../src/order/index.js';
import { trackEdgePrefix } from './edge-cleanup.js';

export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A short unique name, e.g. `t-1a2b3c4d`. */
export const uniq = (prefix = 't'): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Config for one test: unique queue, topic and channel prefix, plus overrides. */
export function testConfig(env: EnvInput = {}): DualstreamConfig {
  const id = uniq('p');
  return loadConfig({
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_QUEUE: `${id}-q`,
    KAFKA_TOPIC: `${id}-topic`,
    DUALSTREAM_CHANNEL_PREFIX: trackEdgePrefix(`${id}-events`),
    LOG_LEVEL: 'silent',
    ...env,
  });
}

const kafka = new Kafka({
  clientId: 'pipeline-tests',
  brokers: BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});

/** Create a topic (replication 1) and wait for its leaders. */
export async function createTopic(topic: string, partitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Delete topics; errors (already gone) are ignored. */
export async function deleteTopics(...topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** A consumed record with string key, value and headers. */
export interface ReadRecord {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Read every record of a topic up to its current end, with a fresh consumer group. */
export async function readTopic(topic: string, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const total = [...ends.values()].reduce((a, b) => a + b, 0n);
  if (total === 0n) return [];
  const consumer = kafka.consumer({ groupId: uniq('reader'), sessionTimeout: 10_000 });
  const out: ReadRecord[] = [];
  const done = new Set<number>([...ends].filter(([, h]) => h === 0n).map(([p]) => p));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`readTopic(${topic}): got ${out.length} of ${total} in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          out.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            headers,
          });
          if (BigInt(message.offset) + 1n >= (ends.get(partition) ?? 0n)) done.add(partition);
          if (done.size === ends.size) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Collect Pub/Sub messages of channels matching a pattern. */
export async function collectPubSub(
  pattern: string,
): Promise<{ messages: Array<{ channel: string; message: string }>; close: () => Promise<void> }> {
  const sub = new Redis(REDIS_URL);
  const messages: Array<{ channel: string; message: string }> = [];
  sub.on('pmessage', (_p, channel, message) => messages.push({ channel, message }));
  await sub.psubscribe(pattern);
  return { messages, close: async () => void (await sub.quit()) };
}

/** Remove a test queue and all its keys, its order state included. */
export async function obliterate(name: string, prefix = 'bull'): Promise<void> {
  const q = new Queue(name, { connection: { url: REDIS_URL }, prefix });
  const redis = new Redis(REDIS_URL);
  try {
    await q.obliterate({ force: true });
    await removeOrderState(redis, prefix, name);
  } finally {
    await q.close();
    await redis.quit();
  }
}

/**
 * afterAll of a pipeline test: close what it opened, in the order given (a missing one is
 * skipped), then remove its queue and its topic (the edge history goes after the file, see test/setup).
 */
export async function teardownPipeline(
  config: DualstreamConfig,
  ...opened: Array<{ close(): Promise<unknown> } | undefined>
): Promise<void> {
  for (const o of opened) await o?.close();
  await obliterate(config.queue.name, config.redis.prefix);
  await deleteTopics(config.kafka.topic);
}

/** Poll until `check` returns true (or throw after `timeoutMs`). */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A kafkajs socket factory whose network can be cut: `cut()` destroys every open connection and
 * sends new ones to a closed port (connection refused), `restore()` lets them through again. The
 * client sees a real network outage; the shared broker is untouched.
 */
export async function cuttableNetwork(): Promise<{
  socketFactory: ISocketFactory;
  cut: () => void;
  restore: () => void;
}> {
  const deadPort = await closedPort();
  const sockets = new Set<net.Socket>();
  let down = false;
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port: down ? deadPort : port }, onConnect);
    socket.setKeepAlive(true, 30_000);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  return {
    socketFactory,
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy(new Error('network cut by test'));
    },
    restore: () => {
      down = false;
    },
  };
}

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A free (port, port + 1) pair for a private Kafka broker and its controller, below the
 * kernel's ephemeral range, so that no outgoing connection can sit on the port the broker must
 * bind again after a kill.
 */
export async function freeBrokerPorts(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    if ((await canListen(port)) && (await canListen(port + 1))) return port;
  }
  throw new Error('no free port pair in 20000-32000');
}

/**
 * afterAll of a test that ran `dualstream start` (or `npm start`) with its own names: remove its
 * publish and ownership queues, every key of its ownership service (load-balancer stream and
 * group) and its topic.
 */
export async function removeStartRun(env: {
  DUALSTREAM_QUEUE: string;
  DUALSTREAM_SERVICE: string;
  KAFKA_TOPIC: string;
}): Promise<void> {
  await obliterate(env.DUALSTREAM_QUEUE);
  await obliterate(`${env.DUALSTREAM_SERVICE}-ownership`);
  const redis = new Redis(REDIS_URL);
  try {
    for await (const keys of redis.scanStream({
      match: `${env.DUALSTREAM_SERVICE}*`,
      count: 100,
    })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
  } finally {
    await redis.quit();
  }
  await deleteTopics(env.KAFKA_TOPIC);
}

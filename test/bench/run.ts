// Throughput benchmark of the publish pipeline against the real broker and Redis:
//   1. raw kafkajs: `send` of the same events in batches of 500 (the ceiling for this client);
//   2. pipeline: enqueueEvents (addBulk, chunks of 1000) while the PublishWorker runs, timed from
//      the first enqueue until every job completed (Kafka acked and notified);
//   3. naive: a BullMQ worker that awaits one kafkajs `send` and one PUBLISH per job;
//   4. BullMQ floor: the same addBulk enqueue and a worker whose processor does nothing. No
//      per-event BullMQ pipeline can beat it on this machine, so pipeline / floor shows what our
//      processing costs on top of BullMQ itself.
// Prints a table with events/s and the ratios. Unique topics and queues, removed afterwards.
//
//   npm run bench                      # 100 000 events (naive: 5 000)
//   BENCH_EVENTS=20000 npm run bench   # smaller run
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { toRecord, type DualEvent } from '../../src/events/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';

const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const NAIVE_N = Number(process.env.BENCH_NAIVE_EVENTS ?? Math.min(5000, N));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `bench-${randomUUID().slice(0, 8)}`;

const payload = { text: 'x'.repeat(440), n: 0 };
const makeEvents = (prefix: string, n: number): DualEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'push',
    sourceType: 'repo',
    sourceId: `owner/repo-${i % 100}`,
    occurredAt: new Date().toISOString(),
    payload: { ...payload, n: i },
  }));

const kafka = new Kafka({ clientId: run, brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
const topics: string[] = [];
const queues: string[] = [];

async function createTopic(name: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: name, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();
  topics.push(name);
  return name;
}

async function waitCompleted(queue: Queue, n: number): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('completed', 'failed');
    if ((counts.completed ?? 0) + (counts.failed ?? 0) >= n) {
      if (counts.failed) console.warn(`  ${counts.failed} jobs failed`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function benchRaw(): Promise<number> {
  const topic = await createTopic(`${run}-raw`);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const records = makeEvents('raw', N).map((e) => toRecord(e, topic));
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: records
        .slice(i, i + 500)
        .map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
    });
  }
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return N / s;
}

async function benchPipeline(): Promise<{ eps: number; enqueueEps: number }> {
  const topic = await createTopic(`${run}-pipe`);
  const config = loadConfig({
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    KAFKA_TOPIC: topic,
    DUALSTREAM_QUEUE: `${run}-pipe`,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'silent',
  });
  queues.push(config.queue.name);
  const queue = createPublishQueue(config);
  const worker = createPublishWorker(config, { drainDelay: 1 });
  await worker.worker.waitUntilReady();
  const events = makeEvents('pipe', N);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await enqueueEvents(queue, events.slice(i, i + 1000));
  }
  const enqueueS = (performance.now() - t0) / 1000;
  await waitCompleted(queue, N);
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  return { eps: N / s, enqueueEps: N / enqueueS };
}

async function benchNaive(): Promise<number> {
  const topic = await createTopic(`${run}-naive`);
  const name = `${run}-naive`;
  queues.push(name);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const pub = createRedis(REDIS_URL);
  const conn = createRedis(REDIS_URL, { blocking: true });
  const queue = new Queue(name, { connection: { url: REDIS_URL } });
  const worker = new Worker(
    name,
    async (job) => {
      const e = job.data as DualEvent;
      const r = toRecord(e, topic);
      const [meta] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: r.key, value: r.value, headers: r.headers }],
      });
      await pub.publish(
        `events:${e.sourceType}:${e.sourceId}`,
        JSON.stringify({ id: e.id, offset: meta?.baseOffset }),
      );
      return { offset: meta?.baseOffset };
    },
    { connection: conn, concurrency: CONCURRENCY, drainDelay: 1 },
  );
  const events = makeEvents('naive', NAIVE_N);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await queue.addBulk(
      events.slice(i, i + 1000).map((e) => ({ name: e.type, data: e, opts: { jobId: e.id } })),
    );
  }
  await waitCompleted(queue, NAIVE_N);
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  await producer.disconnect();
  await pub.quit();
  await conn.quit();
  return NAIVE_N / s;
}

async function benchBullmqFloor(): Promise<number> {
  const name = `${run}-floor`;
  queues.push(name);
  const conn = createRedis(REDIS_URL, { blocking: true });
  const queue = new Queue(name, { connection: { url: REDIS_URL } });
  const worker = new Worker(name, async () => ({ ok: true }), {
    connection: conn,
    concurrency: CONCURRENCY,
    drainDelay: 1,
    removeOnComplete: { age: 86_400 },
  });
  await worker.waitUntilReady();
  const events = makeEvents('floor', N);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await queue.addBulk(
      events.slice(i, i + 1000).map((e) => ({ name: e.type, data: e, opts: { jobId: e.id } })),
    );
  }
  await waitCompleted(queue, N);
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  await conn.quit();
  return N / s;
}

async function cleanup(): Promise<void> {
  for (const name of queues) {
    const q = new Queue(name, { connection: { url: REDIS_URL } });
    await q
      .obliterate({ force: true })
      .catch((e: unknown) => console.warn(`obliterate ${name}: ${String(e)}`));
    await q.close();
  }
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);

async function main(): Promise<void> {
  console.log(
    `bench ${run}: ${N} events (~500-byte payloads), naive ${NAIVE_N}, concurrency ${CONCURRENCY}`,
  );
  try {
    const raw = await benchRaw();
    console.log(`  raw kafkajs done: ${fmt(raw)} ev/s`);
    const pipe = await benchPipeline();
    console.log(`  pipeline done:    ${fmt(pipe.eps)} ev/s`);
    const naive = await benchNaive();
    console.log(`  naive done:       ${fmt(naive)} ev/s`);
    const floor = await benchBullmqFloor();
    console.log(`  BullMQ floor done:${fmt(floor)} ev/s`);
    console.log('');
    console.log('| run                                   | events  |  events/s  |');
    console.log('|---------------------------------------|---------|------------|');
    console.log(
      `| raw kafkajs send, batches of 500      | ${String(N).padStart(7)} | ${fmt(raw)} |`,
    );
    console.log(
      `| pipeline end-to-end (enqueue→notify)  | ${String(N).padStart(7)} | ${fmt(pipe.eps)} |`,
    );
    console.log(
      `|   of which enqueue (addBulk 1000)     | ${String(N).padStart(7)} | ${fmt(pipe.enqueueEps)} |`,
    );
    console.log(
      `| naive worker (send + PUBLISH per job) | ${String(NAIVE_N).padStart(7)} | ${fmt(naive)} |`,
    );
    console.log(
      `| BullMQ floor (no-op processor)        | ${String(N).padStart(7)} | ${fmt(floor)} |`,
    );
    console.log('');
    console.log(`pipeline / raw   = ${(pipe.eps / raw).toFixed(2)}  (target >= 0.5)`);
    console.log(`pipeline / naive = ${(pipe.eps / naive).toFixed(1)}  (target >= 5)`);
    console.log(
      `pipeline / BullMQ floor = ${(pipe.eps / floor).toFixed(2)}  (1.0 = no cost beyond BullMQ)`,
    );
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

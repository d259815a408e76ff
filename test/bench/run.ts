// Throughput benchmark of the publish pipeline against the real broker and Redis:
//   1. raw kafkajs: `send` of the same events in batches of 500 (the ceiling for this client);
//   2. pipeline: enqueueEvents (addBulk, chunks of 1000) while the PublishWorker runs, timed from
//      the first enqueue until every job completed (Kafka acked and notified);
//   3. naive: a BullMQ worker that awaits one kafkajs `send` and one PUBLISH per job;
//   4. BullMQ floor: the same addBulk enqueue and a worker whose processor does nothing. No
//      per-event BullMQ pipeline can beat it on this machine, so pipeline / floor shows what our
//      processing costs on top of BullMQ itself;
//   5. per-source order: the pipeline with ORDERING=source (the default, rows 2) against
//      ORDERING=none, at 100 sources, at 10 000 sources and with one hot source.
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
import { removeOrderState } from '../../src/order/index.js';
import { createRedis } from '../../src/redis.js';

const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const NAIVE_N = Number(process.env.BENCH_NAIVE_EVENTS ?? Math.min(5000, N));
const HOT_N = Number(process.env.BENCH_HOT_EVENTS ?? Math.min(20_000, N));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `bench-${randomUUID().slice(0, 8)}`;

const payload = { text: 'x'.repeat(440), n: 0 };
const makeEvents = (prefix: string, n: number, sources = 100): DualEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'push',
    sourceType: 'repo',
    sourceId: `owner/repo-${i % sources}`,
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

async function benchPipeline(
  ordering: 'source' | 'none' = 'source',
  sources = 100,
  n = N,
): Promise<{ eps: number; enqueueEps: number }> {
  const name = `${run}-pipe-${ordering}-${sources}`;
  const topic = await createTopic(name);
  const config = loadConfig({
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    KAFKA_TOPIC: topic,
    DUALSTREAM_QUEUE: name,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    ORDERING: ordering,
    LOG_LEVEL: 'silent',
  });
  queues.push(config.queue.name);
  const queue = createPublishQueue(config);
  const worker = createPublishWorker(config, { drainDelay: 1 });
  await worker.worker.waitUntilReady();
  await worker.started;
  const events = makeEvents(name, n, sources);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await enqueueEvents(queue, events.slice(i, i + 1000));
  }
  const enqueueS = (performance.now() - t0) / 1000;
  await waitCompleted(queue, n);
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  return { eps: n / s, enqueueEps: n / enqueueS };
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
  const redis = createRedis(REDIS_URL);
  for (const name of queues) {
    const q = new Queue(name, { connection: { url: REDIS_URL } });
    await q
      .obliterate({ force: true })
      .catch((e: unknown) => console.warn(`obliterate ${name}: ${String(e)}`));
    await q.close();
    await removeOrderState(redis, 'bull', name);
  }
  await redis.quit();
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
    const none100 = await benchPipeline('none', 100);
    console.log(`  unordered, 100 sources: ${fmt(none100.eps)} ev/s`);
    const src10k = await benchPipeline('source', 10_000);
    console.log(`  ordered, 10 000 sources: ${fmt(src10k.eps)} ev/s`);
    const none10k = await benchPipeline('none', 10_000);
    console.log(`  unordered, 10 000 sources: ${fmt(none10k.eps)} ev/s`);
    const hot = await benchPipeline('source', 1, HOT_N);
    console.log(`  ordered, one hot source: ${fmt(hot.eps)} ev/s`);
    const hotNone = await benchPipeline('none', 1, HOT_N);
    console.log(`  unordered, one hot source: ${fmt(hotNone.eps)} ev/s`);
    console.log('');
    console.log('| run                                   | events  |  events/s  |');
    console.log('|---------------------------------------|---------|------------|');
    console.log(
      `| raw kafkajs send, batches of 500      | ${String(N).padStart(7)} | ${fmt(raw)} |`,
    );
    console.log(
      `| pipeline ordered, 100 sources (e2e)   | ${String(N).padStart(7)} | ${fmt(pipe.eps)} |`,
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
    const orderRow = (label: string, n: number, eps: number) =>
      console.log(`| ${label.padEnd(37)} | ${String(n).padStart(7)} | ${fmt(eps)} |`);
    orderRow('pipeline ORDERING=none, 100 sources', N, none100.eps);
    orderRow('pipeline ordered, 10 000 sources', N, src10k.eps);
    orderRow('pipeline ORDERING=none, 10 000 sources', N, none10k.eps);
    orderRow('pipeline ordered, one hot source', HOT_N, hot.eps);
    orderRow('pipeline ORDERING=none, one hot source', HOT_N, hotNone.eps);
    console.log('');
    console.log(`pipeline / raw   = ${(pipe.eps / raw).toFixed(2)}  (target >= 0.5)`);
    console.log(`pipeline / naive = ${(pipe.eps / naive).toFixed(1)}  (target >= 5)`);
    console.log(
      `pipeline / BullMQ floor = ${(pipe.eps / floor).toFixed(2)}  (1.0 = no cost beyond BullMQ)`,
    );
    console.log(
      `ordered / unordered, 100 sources    = ${(pipe.eps / none100.eps).toFixed(2)}  (target >= 0.8)`,
    );
    console.log(`ordered / unordered, 10 000 sources = ${(src10k.eps / none10k.eps).toFixed(2)}`);
    console.log(`ordered / unordered, one hot source = ${(hot.eps / hotNone.eps).toFixed(2)}`);
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

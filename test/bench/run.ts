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
//   6. latency: a separate `dualstream worker` process, a plain BullMQ app adding at 100, 1 000
//      and 5 000 events/s, add → notification percentiles, ordered and unordered (latency.ts);
//   7. the pipeline with KAFKA_LINGER_MS=5 (a fixed linger window) beside the default adaptive
//      batching (KAFKA_LINGER_MS=0).
// Prints a table with events/s and the ratios, writes everything as JSON to test-artifacts/, and
// ends with one verdict line naming each target and whether it was met. Unique topics and
// queues, removed afterwards.
//
//   npm run bench                      # 100 000 events (naive: 5 000)
//   BENCH_EVENTS=20000 npm run bench   # smaller run
//   BENCH_ONLY=pipeline,floor npm run bench   # some rows only (ids: see ROWS below)
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { toRecord, type DualEvent } from '../../src/events/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import { removeOrderState } from '../../src/order/index.js';
import { removeEdgeState } from '../../src/realtime/keys.js';
import { createPlatformaticProducer } from '../../src/publisher/index.js';
import { createRedis } from '../../src/redis.js';
import { measureLatency, type LatencyResult } from './latency.js';

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

// The same raw batches through @platformatic/kafka (KAFKA_CLIENT=platformatic).
async function benchRawPlatformatic(): Promise<number> {
  const topic = await createTopic(`${run}-rawp`);
  const producer = createPlatformaticProducer({
    brokers: BROKERS.split(','),
    clientId: run,
    ssl: false,
  });
  await producer.connect();
  const records = makeEvents('rawp', N).map((e) => toRecord(e, topic));
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += 500) await producer.send(records.slice(i, i + 500));
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return N / s;
}

async function benchPipeline(
  ordering: 'source' | 'none' = 'source',
  sources = 100,
  n = N,
  env: Record<string, string> = {},
  tag = '',
): Promise<{ eps: number; enqueueEps: number }> {
  // Every row its own queue and topic: the env (client, linger) is part of the name.
  const variant = Object.values(env)
    .map((v) => `-${v}`)
    .join('');
  const name = `${run}-pipe${tag}-${ordering}-${sources}${variant}`;
  const topic = await createTopic(name);
  const config = loadConfig({
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    KAFKA_TOPIC: topic,
    DUALSTREAM_QUEUE: name,
    DUALSTREAM_CHANNEL_PREFIX: name,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    ORDERING: ordering,
    LOG_LEVEL: 'silent',
    ...env,
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
    await removeEdgeState(redis, 'bull', name);
  }
  await redis.quit();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());

/** One throughput row. */
interface Row {
  id: string;
  label: string;
  events: number;
  eps: number;
}

/** One target of the verdict line. */
interface Target {
  name: string;
  value: number;
  goal: string;
  met: boolean;
}

async function main(): Promise<void> {
  console.log(
    `bench ${run}: ${N} events (~500-byte payloads), naive ${NAIVE_N}, concurrency ${CONCURRENCY}`,
  );
  const rows: Row[] = [];
  const latency: LatencyResult[] = [];
  const want = (id: string) => !ONLY || ONLY.some((o) => id === o || id.startsWith(`${o}-`));
  const measure = async (id: string, label: string, events: number, f: () => Promise<number>) => {
    if (!want(id)) return;
    const eps = await f();
    rows.push({ id, label, events, eps });
    console.log(`  ${label}: ${fmt(eps)} ev/s`);
  };
  const pipe =
    (...args: Parameters<typeof benchPipeline>) =>
    async () =>
      (await benchPipeline(...args)).eps;
  try {
    // Warm-up, not reported: the first pipeline of a process pays for JIT and new connections,
    // which would otherwise fall on whichever row comes first.
    if (rows.length === 0 && (!ONLY || ONLY.some((o) => o !== 'latency'))) {
      await benchPipeline('source', 100, Math.min(N, 5000), {}, '-warmup');
    }
    await measure('raw', 'raw kafkajs send, batches of 500', N, benchRaw);
    await measure(
      'raw-platformatic',
      'raw @platformatic/kafka, batches of 500',
      N,
      benchRawPlatformatic,
    );
    await measure('pipeline', 'pipeline ordered, 100 sources (e2e)', N, pipe('source', 100));
    await measure('naive', 'naive worker (send + PUBLISH per job)', NAIVE_N, benchNaive);
    await measure('floor', 'BullMQ floor (no-op processor)', N, benchBullmqFloor);
    await measure('none-100', 'pipeline ORDERING=none, 100 sources', N, pipe('none', 100));
    await measure(
      'platformatic',
      'pipeline ordered, KAFKA_CLIENT=platformatic',
      N,
      pipe('source', 100, N, { KAFKA_CLIENT: 'platformatic' }),
    );
    await measure(
      'linger5',
      'pipeline ordered, KAFKA_LINGER_MS=5',
      N,
      pipe('source', 100, N, { KAFKA_LINGER_MS: '5' }),
    );
    await measure('source-10k', 'pipeline ordered, 10 000 sources', N, pipe('source', 10_000));
    await measure('none-10k', 'pipeline ORDERING=none, 10 000 sources', N, pipe('none', 10_000));
    await measure(
      'source-hot',
      'pipeline ordered, one hot source',
      HOT_N,
      pipe('source', 1, HOT_N),
    );
    await measure(
      'none-hot',
      'pipeline ORDERING=none, one hot source',
      HOT_N,
      pipe('none', 1, HOT_N),
    );
    if (want('latency')) {
      const rates = (process.env.LATENCY_RATES ?? '100,1000,5000').split(',').map(Number);
      const seconds = Number(process.env.LATENCY_SECONDS ?? 10);
      for (const rate of rates) {
        for (const [ordering, client] of [
          ['source', 'kafkajs'],
          ['none', 'kafkajs'],
          ['source', 'platformatic'],
        ] as const) {
          const r = await measureLatency({ rate, ordering, seconds, client });
          latency.push(r);
          console.log(
            `  latency ${rate}/s ${ordering} ${client}: p50 ${r.p50} ms, p99 ${r.p99} ms`,
          );
        }
      }
    }
  } finally {
    await cleanup();
  }

  console.log('');
  console.log('| run                                    | events  |  events/s  |');
  console.log('|----------------------------------------|---------|------------|');
  for (const r of rows) {
    console.log(`| ${r.label.padEnd(38)} | ${String(r.events).padStart(7)} | ${fmt(r.eps)} |`);
  }
  if (latency.length > 0) {
    console.log('');
    console.log(
      '| latency, add → notification | rate/s | achieved | p50 ms | p90 ms | p99 ms | max ms | missing |',
    );
    console.log(
      '|-----------------------------|--------|----------|--------|--------|--------|--------|---------|',
    );
    for (const l of latency) {
      const cells = [l.achievedRate, l.p50, l.p90, l.p99, l.max, l.missing].map((v) =>
        String(v).padStart(6),
      );
      console.log(
        `| ${`ORDERING=${l.ordering}, ${l.client}`.padEnd(34)} | ${String(l.rate).padStart(6)} | ${cells.join(' | ')} |`,
      );
    }
  }

  const eps = (id: string) => rows.find((r) => r.id === id)?.eps;
  const ratio = (a: string, b: string) => {
    const x = eps(a);
    const y = eps(b);
    return x !== undefined && y !== undefined ? x / y : undefined;
  };
  const targets: Target[] = [];
  const target = (
    name: string,
    value: number | undefined,
    goal: string,
    met: (v: number) => boolean,
  ) => {
    if (value === undefined || Number.isNaN(value)) return;
    targets.push({ name, value: Math.round(value * 100) / 100, goal, met: met(value) });
  };
  target('pipeline/floor', ratio('pipeline', 'floor'), '>= 0.8', (v) => v >= 0.8);
  target('pipeline/naive', ratio('pipeline', 'naive'), '>= 5', (v) => v >= 5);
  target('ordered/unordered', ratio('pipeline', 'none-100'), '>= 0.8', (v) => v >= 0.8);
  for (const ordering of ['source', 'none'] as const) {
    const at = (rate: number) =>
      latency.find((l) => l.rate === rate && l.ordering === ordering && l.client === 'kafkajs');
    target(`p50@100/s ${ordering}`, at(100)?.p50, '<= 3 ms', (v) => v <= 3);
    target(`p99@1000/s ${ordering}`, at(1000)?.p99, '<= 15 ms', (v) => v <= 15);
  }
  console.log('');
  const info = (label: string, v: number | undefined) =>
    v !== undefined && console.log(`${label} = ${v.toFixed(2)}`);
  info('pipeline / raw kafkajs', ratio('pipeline', 'raw'));
  info('adaptive / KAFKA_LINGER_MS=5', ratio('pipeline', 'linger5'));
  info('platformatic / kafkajs, raw', ratio('raw-platformatic', 'raw'));
  info('platformatic / kafkajs, pipeline', ratio('platformatic', 'pipeline'));
  info('ordered / unordered, 10 000 sources', ratio('source-10k', 'none-10k'));
  info('ordered / unordered, one hot source', ratio('source-hot', 'none-hot'));

  mkdirSync('test-artifacts', { recursive: true });
  const file = `test-artifacts/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const meta = {
    run,
    date: new Date().toISOString(),
    events: N,
    naiveEvents: NAIVE_N,
    concurrency: CONCURRENCY,
  };
  writeFileSync(file, `${JSON.stringify({ ...meta, rows, latency, targets }, null, 2)}\n`);
  console.log(`JSON: ${file}`);
  console.log(
    `verdict: ${targets.map((t) => `${t.name} ${t.value} (${t.goal}) ${t.met ? 'MET' : 'MISSED'}`).join('; ') || 'no target measured'}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// `npm run bench:order-wait`: what ORDER_WAIT_REPLICAS=1 costs on a Redis Cluster. A private
// 3+3 Redis Cluster (loopback) and the Kafka on KAFKA_BROKERS (`npm run infra:up`); one publish
// worker with ORDERING=source drains a pre-filled queue, with the replica wait off and on,
// alternating, each its own queue and topic. Prints a table with the ratio and writes JSON to
// test-artifacts/. The baseline is the same drain without the wait, in the same run.
//
//   BENCH_WAIT_EVENTS=20000 BENCH_WAIT_ROUNDS=3 npm run bench:order-wait
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Queue } from 'bullmq';
import { loadConfig } from '../../src/config/index.js';
import type { DualEvent } from '../../src/events/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import { PrivateRedisCluster, freeRedisClusterPorts } from '../chaos/private-redis-cluster.js';

const N = Number(process.env.BENCH_WAIT_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_WAIT_ROUNDS ?? 3);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const run = `bench-wait-${randomUUID().slice(0, 8)}`;
const kafka = new Kafka({ clientId: run, brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
const topics: string[] = [];

const events = (tag: string): DualEvent[] =>
  Array.from({ length: N }, (_, i) => ({
    id: `${tag}-${i}`,
    type: 'push',
    sourceType: 'repo',
    sourceId: `owner/repo-${i % 100}`,
    occurredAt: new Date().toISOString(),
    payload: { text: 'x'.repeat(440), n: i },
  }));

async function waitCompleted(queue: Queue, n: number): Promise<number> {
  for (;;) {
    const c = await queue.getJobCounts('completed', 'failed');
    if ((c.completed ?? 0) + (c.failed ?? 0) >= n) return c.failed ?? 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Events/s of one drain (enqueue included, as in `npm run bench`), and waits that came back short. */
async function drain(clusterUrl: string, replicas: number, round: number) {
  const name = `${run}-r${round}-w${replicas}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: name, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();
  topics.push(name);
  const config = loadConfig({
    KAFKA_BROKERS: BROKERS,
    REDIS_URL: clusterUrl,
    DUALSTREAM_PREFIX: `{${name}}`,
    DUALSTREAM_QUEUE: name,
    KAFKA_TOPIC: name,
    WORKER_CONCURRENCY: '512',
    ORDERING: 'source',
    ORDER_WAIT_REPLICAS: String(replicas),
    LOG_LEVEL: 'silent',
  });
  const queue = createPublishQueue(config);
  const metrics = new DualstreamMetrics();
  const worker = createPublishWorker(config, { drainDelay: 1, metrics });
  await worker.worker.waitUntilReady();
  await worker.started;
  const list = events(name);
  const t0 = performance.now();
  for (let i = 0; i < list.length; i += 1000) await enqueueEvents(queue, list.slice(i, i + 1000));
  const failed = await waitCompleted(queue, N);
  const s = (performance.now() - t0) / 1000;
  const short = (await metrics.orderWaitShort.get()).values[0]?.value ?? 0;
  await worker.close();
  await queue.close();
  return { eps: N / s, failed, short };
}

const cluster = new PrivateRedisCluster(await freeRedisClusterPorts(), () => undefined);
const rows: Array<{ round: number; off: number; on: number; ratio: number; short: number }> = [];
try {
  await cluster.start();
  console.log(`Redis Cluster ${cluster.url}; Kafka ${BROKERS}; ${N} events per drain`);
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order = round % 2 === 1 ? [0, 1] : [1, 0];
    const got = new Map<number, Awaited<ReturnType<typeof drain>>>();
    for (const replicas of order) got.set(replicas, await drain(cluster.url, replicas, round));
    const off = got.get(0)!;
    const on = got.get(1)!;
    if (off.failed || on.failed) console.warn(`round ${round}: ${off.failed + on.failed} failed`);
    rows.push({ round, off: off.eps, on: on.eps, ratio: on.eps / off.eps, short: on.short });
  }
} finally {
  await cluster.destroy();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  '\n| round | wait off (events/s) | ORDER_WAIT_REPLICAS=1 (events/s) | ratio | short waits |',
);
console.log(
  '| ----- | ------------------- | -------------------------------- | ----- | ----------- |',
);
for (const r of rows)
  console.log(`| ${r.round} | ${fmt(r.off)} | ${fmt(r.on)} | ${r.ratio.toFixed(2)} | ${r.short} |`);
const mean = rows.reduce((a, r) => a + r.ratio, 0) / Math.max(1, rows.length);
console.log(`\nmean ratio (on / off): ${mean.toFixed(2)}`);
const file = path.resolve('test-artifacts', `bench-order-wait-${Date.now()}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(
  file,
  `${JSON.stringify({ at: new Date().toISOString(), N, rows, mean }, null, 2)}\n`,
);
console.log(`JSON: ${file}`);

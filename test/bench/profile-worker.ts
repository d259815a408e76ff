// Profiling aid (not part of `npm run bench`): pre-fills the publish queue, then times the worker
// alone. Run with `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx test/bench/profile-worker.ts`.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const run = `prof-${randomUUID().slice(0, 8)}`;
const config = loadConfig({
  KAFKA_TOPIC: `${run}-t`,
  DUALSTREAM_QUEUE: `${run}-q`,
  WORKER_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? '512',
  LOG_LEVEL: 'silent',
});
const kafka = new Kafka({
  clientId: run,
  brokers: config.kafka.brokers,
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [{ topic: config.kafka.topic, numPartitions: 6 }],
  waitForLeaders: true,
});
const queue = createPublishQueue(config);
const events = Array.from({ length: N }, (_, i) => ({
  id: `${run}-${i}`,
  type: 'push',
  sourceType: 'repo',
  sourceId: `o/r-${i % 100}`,
  payload: { text: 'x'.repeat(440), n: i },
}));
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) await enqueueEvents(queue, events.slice(i, i + 1000));
const enq = (performance.now() - t0) / 1000;
const worker = createPublishWorker(config, { drainDelay: 1 });
const t1 = performance.now();
for (;;) {
  const c = await queue.getJobCounts('completed');
  if ((c.completed ?? 0) >= N) break;
  await new Promise((r) => setTimeout(r, 50));
}
const proc = (performance.now() - t1) / 1000;
console.log(`enqueue ${Math.round(N / enq)} ev/s; worker alone ${Math.round(N / proc)} ev/s`);
await worker.close();
await new Queue(config.queue.name, { connection: { url: config.redis.url } }).obliterate({
  force: true,
});
await queue.close();
await admin.deleteTopics({ topics: [config.kafka.topic] });
await admin.disconnect();
process.exit(0);

// Profiling aid (not part of `npm run bench`): pre-fills the publish queue, then times the worker
// alone. Run with `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx test/bench/profile-worker.ts`.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { removeOrderState } from '../../src/order/index.js';
import { removeEdgeState } from '../../src/realtime/keys.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const run = `prof-${randomUUID().slice(0, 8)}`;
const config = loadConfig(process.env, {
  KAFKA_TOPIC: `${run}-t`,
  DUALSTREAM_QUEUE: `${run}-q`,
  DUALSTREAM_CHANNEL_PREFIX: run,
  WORKER_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? '512',
  ORDERING: process.env.ORDERING ?? 'source',
  KAFKA_LINGER_MS: process.env.KAFKA_LINGER_MS ?? '0',
  KAFKA_CLIENT: process.env.KAFKA_CLIENT ?? 'kafkajs',
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
const info = new Redis(config.redis.url);
const redisCpu = async (): Promise<number> => {
  const text = await info.info('cpu');
  const num = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(text)?.[1] ?? 0);
  return (num('used_cpu_user') + num('used_cpu_sys')) * 1e6;
};
const redis0 = await redisCpu();
const metrics = new DualstreamMetrics();
const cpu0 = process.cpuUsage();
// FLOOR=1: a plain BullMQ worker with a no-op processor on the same jobs, for comparison.
const worker =
  process.env.FLOOR === '1'
    ? new Worker(config.queue.name, async () => ({ ok: true }), {
        connection: { url: config.redis.url, maxRetriesPerRequest: null },
        concurrency: config.queue.concurrency,
        drainDelay: 1,
      })
    : createPublishWorker(config, { drainDelay: 1, metrics });
const t1 = performance.now();
for (;;) {
  const c = await queue.getJobCounts('completed');
  if ((c.completed ?? 0) >= N) break;
  await new Promise((r) => setTimeout(r, 50));
}
const proc = (performance.now() - t1) / 1000;
const cpu = process.cpuUsage(cpu0);
const redisUs = (await redisCpu()) - redis0;
const sums = async (name: string) => {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = (suffix: string) =>
    m?.values.find((x) => (x as { metricName?: string }).metricName === `${name}${suffix}`)
      ?.value ?? 0;
  return { sum: v('_sum'), count: v('_count') };
};
const batches = await sums('dualstream_kafka_batch_records');
const requests = await sums('dualstream_kafka_produce_seconds');
// CPU per event is steadier than events/s on a shared machine: it does not count waiting.
console.log(
  `enqueue ${Math.round(N / enq)} ev/s; worker alone ${Math.round(N / proc)} ev/s, ` +
    `${Math.round((cpu.user + cpu.system) / N)} µs CPU per event (user ${Math.round(cpu.user / N)}, system ${Math.round(cpu.system / N)}); Redis ${Math.round(redisUs / N)} µs CPU per event (whole server: other clients count too); ` +
    `${batches.count} produce requests, ${(batches.sum / Math.max(1, batches.count)).toFixed(1)} records and ` +
    `${((requests.sum / Math.max(1, requests.count)) * 1000).toFixed(2)} ms each on average`,
);
await worker.close();
await new Queue(config.queue.name, { connection: { url: config.redis.url } }).obliterate({
  force: true,
});
await queue.close();
await removeOrderState(info, config.redis.prefix, config.queue.name);
await removeEdgeState(info, config.redis.prefix, config.events.channelPrefix);
await info.quit();
await admin.deleteTopics({ topics: [config.kafka.topic] });
await admin.disconnect();
process.exit(0);

// Latency of the publish pipeline as a new user meets it: a plain BullMQ app adds events at a
// fixed rate, one `dualstream worker` process publishes them, and a Redis subscriber times each
// add → id-only notification. A warm-up is run and discarded before each measurement.
//
// Used by `npm run bench` (rows "latency …"); on its own:
//   node --import tsx test/bench/latency.ts            # 100, 1000 and 5000 events/s
//   LATENCY_RATES=100 LATENCY_SECONDS=5 node --import tsx test/bench/latency.ts
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { removeOrderState } from '../../src/order/index.js';
import { startCliChild, type CliChild } from '../helpers/cli-child.js';

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One latency measurement: add → notification at a fixed rate. */
export interface LatencyResult {
  rate: number;
  ordering: 'source' | 'none';
  /** Events whose notification arrived in the measured window. */
  measured: number;
  /** Events added in the measured window whose notification never arrived (within 30 s). */
  missing: number;
  /** The rate the producer really reached (events/s). */
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LatencyOptions {
  rate: number;
  ordering: 'source' | 'none';
  /** Measured seconds (after the warm-up). @defaultValue 10 */
  seconds?: number;
  /** Discarded seconds at the start. @defaultValue 3 */
  warmupSeconds?: number;
  sources?: number;
  /** Extra environment for the worker (e.g. KAFKA_LINGER_MS to compare). */
  env?: Record<string, string>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Run one worker process, add at `rate` events/s, and time every notification. */
export async function measureLatency(options: LatencyOptions): Promise<LatencyResult> {
  const { rate, ordering } = options;
  const seconds = options.seconds ?? 10;
  const warmup = options.warmupSeconds ?? 3;
  const sources = options.sources ?? 100;
  const run = `lat-${randomUUID().slice(0, 8)}`;
  const queueName = run;
  const topic = run;
  const channelPrefix = run;

  const kafka = new Kafka({
    clientId: run,
    brokers: BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });

  const sub = new Redis(REDIS_URL, { lazyConnect: true });
  await sub.connect();
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let measuring = false;
  const measuredIds = new Set<string>();
  sub.on('pmessage', (_p: string, _c: string, message: string) => {
    const now = performance.now();
    const { id } = JSON.parse(message) as { id: string };
    const t0 = sentAt.get(id);
    if (t0 === undefined) return;
    sentAt.delete(id);
    if (measuredIds.delete(id)) latencies.push(now - t0);
  });
  await sub.psubscribe(`${channelPrefix}:*`);

  const queue = new Queue(queueName, { connection: { url: REDIS_URL } });
  let worker: CliChild | undefined;
  try {
    worker = startCliChild('worker', ['worker'], {
      REDIS_URL,
      KAFKA_BROKERS: BROKERS,
      KAFKA_TOPIC: topic,
      DUALSTREAM_QUEUE: queueName,
      DUALSTREAM_CHANNEL_PREFIX: channelPrefix,
      ORDERING: ordering,
      LOG_LEVEL: 'warn',
      ...options.env,
    });
    // Ready when a probe event comes back as a notification.
    const probeId = `${run}-probe`;
    sentAt.set(probeId, performance.now());
    await queue.add('event', { id: probeId, type: 'probe', sourceType: 'lat', sourceId: 'probe' });
    const readyBy = Date.now() + 60_000;
    while (sentAt.has(probeId)) {
      if (worker.process.exitCode !== null) {
        throw new Error(`worker exited: ${worker.stderr().slice(-2000)}`);
      }
      if (Date.now() > readyBy) throw new Error('worker did not publish the probe in 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }

    // Fixed-rate producer: every 2 ms, add what the schedule says is due (adds not awaited
    // one by one: a real app's requests arrive independently).
    const total = Math.round(rate * (warmup + seconds));
    const startMs = performance.now();
    let added = 0;
    let measuredAdded = 0;
    let firstMeasured = 0;
    const adds: Array<Promise<unknown>> = [];
    await new Promise<void>((done) => {
      const tick = (): void => {
        const elapsed = (performance.now() - startMs) / 1000;
        const due = Math.min(total, Math.floor(elapsed * rate));
        while (added < due) {
          const i = added;
          added += 1;
          const id = `${run}-${i}`;
          const inWindow = i >= rate * warmup;
          if (inWindow && !measuring) {
            measuring = true;
            firstMeasured = performance.now();
          }
          if (inWindow) {
            measuredIds.add(id);
            measuredAdded += 1;
          }
          sentAt.set(id, performance.now());
          adds.push(
            queue.add('event', {
              id,
              type: 'push',
              sourceType: 'lat',
              sourceId: `s-${i % sources}`,
              payload: { n: i, text: 'x'.repeat(200) },
            }),
          );
        }
        if (added >= total) done();
        else setTimeout(tick, 2);
      };
      tick();
    });
    const addWindowMs = performance.now() - firstMeasured;
    await Promise.all(adds);
    const drainBy = Date.now() + 30_000;
    while (measuredIds.size > 0 && Date.now() < drainBy) {
      await new Promise((r) => setTimeout(r, 50));
    }
    latencies.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      rate,
      ordering,
      measured: latencies.length,
      missing: measuredIds.size,
      achievedRate: Math.round(measuredAdded / (addWindowMs / 1000)),
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? Number.NaN),
    };
  } finally {
    await worker?.stop('SIGTERM', 15_000);
    await sub.quit().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await cleanupOrderKeys(queueName);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

// The worker's per-source order state lives beside the queue; obliterate does not know it.
async function cleanupOrderKeys(queueName: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await removeOrderState(redis, 'bull', queueName);
  } finally {
    await redis.quit();
  }
}

async function main(): Promise<void> {
  const rates = (process.env.LATENCY_RATES ?? '100,1000,5000').split(',').map(Number);
  const seconds = Number(process.env.LATENCY_SECONDS ?? 10);
  const rows: LatencyResult[] = [];
  for (const rate of rates) {
    for (const ordering of ['source', 'none'] as const) {
      rows.push(await measureLatency({ rate, ordering, seconds }));
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

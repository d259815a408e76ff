// Per-source order survives scale-out: three real `dualstream worker` processes at concurrency 64
// publish events of 80 sources that arrive through four entry points (plain BullMQ `addBulk`
// with BullMQ's own numeric ids, plain `addBulk` with custom job ids, `enqueueEvents`, and one
// `POST /v1/events` array per round), round by round, while one worker is killed with kill -9 (its active jobs come back through BullMQ's
// stalled-job recovery) and the private Kafka broker is killed and restarted (cool-down). Read
// back from Kafka: every event once (or a duplicate that repeats its seq), no event after a
// later one of its source, and `source-seq` 1, 2, 3, … without a gap for every source;
// notifications of a source in seq order.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { PrivateKafka } from '../chaos/private-kafka.js';
import { readWholeTopic } from '../chaos/kafka-reader.js';
import { createPublishQueue, enqueueEvents } from '../../src/queue/index.js';
import { createApp } from '../../src/server/app.js';
import { startServer, type StartedServer } from '../../src/server/listen.js';
import { silentLogger } from '../../src/logger.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import {
  REDIS_URL,
  freeBrokerPorts,
  obliterate,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';
import {
  checkSourceOrder,
  orderedRecordOf,
  notificationInversions,
} from '../helpers/order-check.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCES_PER_ENTRY = 20;
const ROUNDS = 40;
const WORKERS = 3;

/** A `dualstream worker` child in its own process group, so a kill reaches all of it. */
function startWorker(env: Record<string, string>, log: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--concurrency', '64'], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line.trim()) log.push(line);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

describe('per-source order with 3 worker processes, a worker kill -9 and a Kafka outage', () => {
  const log: string[] = [];
  const workerLog: string[] = [];
  let kafka: PrivateKafka;
  let config: DualstreamConfig;
  let env: Record<string, string>;
  const workers: ChildProcess[] = [];
  let sub: Redis;
  let queueRedis: Redis;
  let server: StartedServer;
  const TOKEN = 'order-test-token-0123456789';
  const notifications: Array<{ key: string; seq: number }> = [];

  beforeAll(async () => {
    const port = await freeBrokerPorts();
    kafka = new PrivateKafka(port, (line) => log.push(line));
    await kafka.start();
    config = testConfig({ KAFKA_BROKERS: kafka.address, BOARD_TOKEN: TOKEN, PORT: '0' });
    const admin = new Kafka({
      clientId: 'order-test',
      brokers: [kafka.address],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: config.kafka.topic, numPartitions: 3 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    env = {
      KAFKA_BROKERS: kafka.address,
      REDIS_URL,
      DUALSTREAM_QUEUE: config.queue.name,
      KAFKA_TOPIC: config.kafka.topic,
      DUALSTREAM_CHANNEL_PREFIX: config.events.channelPrefix,
      KAFKA_FAILURE_THRESHOLD: '2',
      KAFKA_COOLDOWN_MS: '1000',
      BACKOFF_DELAY_MS: '200',
      JOB_ATTEMPTS: '50',
      LOG_LEVEL: 'warn',
    };
    sub = new Redis(REDIS_URL);
    sub.on('pmessage', (_p, _channel, message: string) => {
      const n = JSON.parse(message) as { source_type: string; source_id: string; seq: number };
      notifications.push({ key: `${n.source_type}:${n.source_id}`, seq: n.seq });
    });
    await sub.psubscribe(`${config.events.channelPrefix}:*`);
    for (let i = 0; i < WORKERS; i++) workers.push(startWorker(env, workerLog));
    queueRedis = new Redis(REDIS_URL);
    server = await startServer(
      createApp({
        config,
        publishQueue: createPublishQueue(config, { connection: queueRedis }),
        redis: queueRedis,
        kafkaPing: async () => true,
        logger: silentLogger(),
      }),
      config,
      silentLogger(),
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await server?.close();
    await queueRedis?.quit();
    await sub?.quit();
    await obliterate(config.queue.name);
    await kafka?.destroy();
  }, 120_000);

  it('keeps enqueue order and a gap-free seq for every source', async () => {
    onTestFailed(() => {
      console.log([...log, ...workerLog.slice(-80)].join('\n'));
    });
    const plain = new Queue(config.queue.name, { connection: { url: REDIS_URL } });
    const publishQueue = createPublishQueue(config);
    const runId = uniq('o');
    const event = (type: string, s: number, n: number, id?: string) => ({
      ...(id ? { id } : {}),
      type: 'order.test',
      sourceType: type,
      sourceId: `s${s}`,
      payload: { n },
    });
    let total = 0;
    let stalled = 0;
    const queueEvents = new QueueEvents(config.queue.name, { connection: { url: REDIS_URL } });
    queueEvents.on('stalled', () => (stalled += 1));
    // Kafka dies under load (cool-down), and when it is back a worker is killed while it works
    // off the backlog, so it dies with active jobs (BullMQ's stalled-job recovery brings them back).
    const faults = (async () => {
      await sleep(2000);
      log.push(`${new Date().toISOString()} kill -9 Kafka`);
      await kafka.kill();
      await sleep(5000);
      log.push(`${new Date().toISOString()} restart Kafka`);
      await kafka.restart();
      log.push(`${new Date().toISOString()} Kafka back`);
      await waitFor(async () => (await publishQueue.getActiveCount()) > 20, 30_000, 'active jobs');
      log.push(`${new Date().toISOString()} kill -9 worker 1`);
      killGroup(workers[0]!, 'SIGKILL');
      await sleep(1000);
      workers.push(startWorker(env, workerLog));
    })();
    for (let n = 1; n <= ROUNDS; n++) {
      const range = [...Array(SOURCES_PER_ENTRY).keys()];
      // Plain BullMQ, numeric ids: one addBulk of one event per source, round after round.
      await plain.addBulk(range.map((s) => ({ name: 'event', data: event('plain', s, n) })));
      // Plain BullMQ with custom job ids.
      await plain.addBulk(
        range.map((s) => ({
          name: 'event',
          data: event('custom', s, n, `${runId}-c${s}-${n}`),
          opts: { jobId: `${runId}-c${s}-${n}` },
        })),
      );
      // The typed helper.
      await enqueueEvents(
        publishQueue,
        range.map((s) => event('api', s, n, `${runId}-a${s}-${n}`)),
      );
      // One HTTP array.
      const res = await fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(range.map((s) => event('http', s, n, `${runId}-h${s}-${n}`))),
      });
      expect(res.status).toBe(202);
      total += 4 * SOURCES_PER_ENTRY;
      await sleep(200);
    }
    await faults;
    await plain.close();
    await waitFor(
      async () => (await publishQueue.getCompletedCount()) >= total,
      150_000,
      `${total} completed jobs`,
    ).catch(async (err: unknown) => {
      const redis = new Redis(REDIS_URL);
      const base = `bull:${config.queue.name}:order`;
      log.push(`counts ${JSON.stringify(await publishQueue.getJobCounts())}`);
      log.push(`adm ${JSON.stringify(await redis.hgetall(`${base}:adm`))}`);
      log.push(`held ${JSON.stringify(await redis.hgetall(`${base}:held`))}`);
      for (const key of (await redis.keys(`${base}:src:*`)).slice(0, 10)) {
        const head = await redis.lrange(key, 0, 3);
        const states = await Promise.all(head.map((id) => publishQueue.getJobState(id)));
        log.push(`${key} ${head.map((id, i) => `${id}=${states[i]}`).join(' ')}`);
      }
      redis.disconnect();
      throw err;
    });
    const counts = await publishQueue.getJobCounts('failed', 'waiting', 'active', 'delayed');
    await publishQueue.close();
    await queueEvents.close();
    log.push(`stalled jobs recovered: ${stalled}`);
    // The kill really hit a worker with active jobs.
    expect(stalled).toBeGreaterThan(0);
    expect(counts).toEqual({ failed: 0, waiting: 0, active: 0, delayed: 0 });

    const { records } = await readWholeTopic([kafka.address], config.kafka.topic, 60_000);
    const report = checkSourceOrder(records.map(orderedRecordOf));
    log.push(`order report: ${JSON.stringify(report)}`);
    expect(report.examples).toEqual([]);
    expect(report.sources).toBe(4 * SOURCES_PER_ENTRY);
    expect(report.records - report.duplicates).toBe(total);
    expect(report.inversions).toBe(0);
    expect(report.seqGaps).toBe(0);
    expect(report.duplicateSeqMismatches).toBe(0);
    // Duplicates only from jobs in flight at the kills (documented): bounded by the slots.
    expect(report.duplicates).toBeLessThanOrEqual(WORKERS * 64);

    const notified = notificationInversions(notifications);
    expect(notified.examples).toEqual([]);
    expect(notifications.length).toBeGreaterThan(total / 2);
    const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
    fs.mkdirSync(artifacts, { recursive: true });
    fs.writeFileSync(
      `${artifacts}order-scale-out.json`,
      JSON.stringify({ report, stalled, notifications: notifications.length, log }, null, 2),
    );
  }, 300_000);
});

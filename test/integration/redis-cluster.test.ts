// The publish pipeline on a Redis Cluster (3 masters, 3 replicas): two real `dualstream worker`
// processes with ORDERING=source and REDIS_URL=redis+cluster://… (ioredis' Cluster client, a
// hash-tagged BullMQ prefix so that the queue and its order state share one slot) publish the
// events of 20 sources to Kafka and notify on Pub/Sub through the cluster; without a fault Kafka
// gets every event once, in order, with a gap-free seq. Under that load the
// master serving the queue's slot is killed with kill -9; its replica is promoted, and the old
// master rejoins as a replica. Redis replicates asynchronously, so for that phase the test gives
// an account rather than assertions: what the enqueuer had confirmed and Kafka lacks, order, seq,
// duplicates.
// The real-time edge runs on the same cluster (its retained history under the hash-tagged
// prefix, one pattern subscription through the Cluster client): a typed subscriber of the
// aggregate channel and one of a single source must get every calm event of their sources once,
// in seq order, without a reset, and the recent-events API must answer from the cluster; through
// the master kill they must still get nothing twice and nothing out of order (what the kill cost
// the history is reported with the rest).
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Fleet, waitForLog } from '../chaos/fleet.js';
import { readWholeTopic } from '../chaos/kafka-reader.js';
import { freeRedisClusterPorts, PrivateRedisCluster } from '../chaos/private-redis-cluster.js';
import { createPublishQueue, enqueueEvents } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { createRealtimeEdge, subscribe, type RealtimeEdge } from '../../src/realtime/index.js';
import type { ClientReset, Subscription } from '../../src/realtime/client.js';
import { listenOn, type StartedServer } from '../../src/server/listen.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import {
  BROKERS,
  createTopic,
  deleteTopics,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';
import {
  checkSourceOrder,
  orderedRecordOf,
  notificationInversions,
} from '../helpers/order-check.js';

const SOURCES = 20;

describe('Redis Cluster: the publish pipeline with ORDERING=source, and a master kill -9', () => {
  const log: string[] = [];
  const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);
  let cluster: PrivateRedisCluster;
  let config: DualstreamConfig;
  let fleet: Fleet;
  let sub: Redis;
  const notifications: Array<{ key: string; seq: number }> = [];
  const logDir = path.resolve('test-artifacts', `redis-cluster-${Date.now()}`);
  let edge: RealtimeEdge;
  let web: StartedServer;
  const subscriptions: Subscription[] = [];

  beforeAll(async () => {
    cluster = new PrivateRedisCluster(await freeRedisClusterPorts(), note);
    await cluster.start();
    const tag = uniq('rc');
    config = testConfig({ REDIS_URL: cluster.url, DUALSTREAM_PREFIX: `{${tag}}` });
    await createTopic(config.kafka.topic, 3);
    fs.mkdirSync(logDir, { recursive: true });
    fleet = new Fleet({
      runId: tag,
      logDir,
      env: {
        KAFKA_BROKERS: BROKERS,
        REDIS_URL: cluster.url,
        DUALSTREAM_PREFIX: config.redis.prefix,
        DUALSTREAM_QUEUE: config.queue.name,
        KAFKA_TOPIC: config.kafka.topic,
        DUALSTREAM_CHANNEL_PREFIX: config.events.channelPrefix,
        ORDERING: 'source',
        WORKER_CONCURRENCY: '64',
        JOB_ATTEMPTS: '50',
        BACKOFF_DELAY_MS: '200',
        LOG_LEVEL: 'info',
      },
    });
    const workers = [fleet.spawn('worker'), fleet.spawn('worker')];
    await Promise.all(workers.map((w) => waitForLog(w, /publish worker running/, 90_000)));
    sub = createRedis(cluster.url, { name: 'test-notifications' });
    sub.on('pmessage', (_p: string, _channel: string, message: string) => {
      const n = JSON.parse(message) as { source_type: string; source_id: string; seq: number };
      notifications.push({ key: `${n.source_type}:${n.source_id}`, seq: n.seq });
    });
    await sub.psubscribe(`${config.events.channelPrefix}:*`);
    edge = createRealtimeEdge(config);
    await edge.start();
    const app = express();
    app.use(edge.router);
    web = await listenOn(app, '127.0.0.1', 0);
  }, 180_000);

  afterAll(async () => {
    for (const s of subscriptions) s.close();
    await edge?.close();
    await web?.close();
    await fleet?.terminateAll();
    await sub?.quit().catch(() => undefined);
    if (config) await deleteTopics(config.kafka.topic).catch(() => undefined);
    await cluster?.destroy();
  }, 120_000);

  it('publishes every confirmed event in order with a gap-free seq; a master failover is accounted for', async () => {
    onTestFailed(() => console.log(`${log.join('\n')}\nworker logs: ${logDir}`));
    const queue = createPublishQueue(config);
    const runId = uniq('e');
    let enqueueRetries = 0;
    /** Enqueue one event per source, round after round, until `faults` is done. */
    const load = async (sourceType: string, faults: () => Promise<void>) => {
      const confirmed = new Set<string>();
      let stop = false;
      const running = (async () => {
        for (let n = 1; !stop; n++) {
          const batch = Array.from({ length: SOURCES }, (_, s) => ({
            id: `${runId}-${sourceType}${s}-${n}`,
            type: 'redis-cluster.test',
            sourceType,
            sourceId: `s${s}`,
            payload: { n },
          }));
          // Enqueue is idempotent by job id: a batch that failed (a failover under way) is sent
          // again as it is, so the enqueue order of every source stays what the test says.
          for (;;) {
            try {
              await enqueueEvents(queue, batch);
              break;
            } catch {
              enqueueRetries += 1;
              await sleep(100);
            }
          }
          for (const e of batch) confirmed.add(e.id);
          await sleep(40);
        }
      })();
      try {
        await faults();
      } finally {
        stop = true;
        await running;
      }
      return confirmed;
    };
    const drain = () =>
      waitFor(
        async () => {
          const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          return Object.values(c).every((v) => v === 0);
        },
        90_000,
        'the publish queue to drain',
      );

    /** A typed edge subscriber: what it got, per source, and its resets. */
    const follow = (channel: string) => {
      const got = new Map<string, number[]>();
      const resets: ClientReset[] = [];
      const s = subscribe({
        url: web.url,
        channels: [channel],
        onMessage: (n) => {
          const key = `${n.source_type}:${n.source_id}`;
          const list = got.get(key) ?? [];
          list.push(n.seq!);
          got.set(key, list);
        },
        onReset: (r) => resets.push(r),
        backoff: { initialMs: 100, maxMs: 1000 },
      });
      subscriptions.push(s);
      const count = () => [...got.values()].reduce((a, l) => a + l.length, 0);
      /** Seqs delivered out of order or twice, per source. */
      const disorder = () =>
        [...got.values()].reduce(
          (a, l) => a + l.filter((seq, i) => i > 0 && seq <= l[i - 1]!).length,
          0,
        );
      return { sub: s, got, resets, count, disorder };
    };
    const calmAll = follow('calm:*');
    const calmOne = follow('calm:s3');
    const failoverAll = follow('failover:*');
    // A subscription without a resume token starts at the newest position: open them first.
    await waitFor(
      async () => [calmAll, calmOne, failoverAll].every((f) => f.sub.token !== undefined),
      15_000,
      'the edge subscriptions to open',
    );

    // Phase 1: no fault. Phase 2: kill -9 the master of the queue's slot under load, let its
    // replica take over, restart the old master (it rejoins as a replica).
    const calm = await load('calm', () => sleep(4000));
    await drain();
    note(`calm phase: ${calm.size} events confirmed`);
    await waitFor(
      async () => calmAll.count() >= calm.size,
      30_000,
      'the aggregate subscriber to get every calm event',
    );
    const recent = (await (
      await fetch(`${web.url}/v1/sources/calm/s3/events?after=0&limit=1000`)
    ).json()) as { events: Array<{ seq: number }>; complete: boolean };
    const slotKey = `${config.redis.prefix}:${config.queue.name}:wait`;
    let master = 0;
    const failover = await load('failover', async () => {
      await sleep(3000);
      master = await cluster.masterOf(slotKey);
      note(`queue slot served by master ${master}; kill -9`);
      const killedAt = Date.now();
      await cluster.kill(master);
      await waitFor(
        async () => (await cluster.masterOf(slotKey).catch(() => master)) !== master,
        30_000,
        'a replica to take over the slot',
      );
      note(`replica ${await cluster.masterOf(slotKey)} promoted after ${Date.now() - killedAt} ms`);
      await sleep(2000);
      await cluster.restart(master);
      await waitFor(async () => (await cluster.role(master)) === 'slave', 30_000, 'rejoin');
      note(`old master ${master} rejoined as a replica`);
      await sleep(2000);
    });
    note(`failover phase: ${failover.size} events confirmed, ${enqueueRetries} enqueue retries`);
    await drain();
    const failed = await queue.getJobCounts('failed');
    await queue.close();
    await sleep(500);

    const { records } = await readWholeTopic(BROKERS.split(','), config.kafka.topic, 60_000);
    const account = (sourceType: string, confirmed: Set<string>) => {
      const mine = records.filter((r) => (r.key ?? '').startsWith(`${sourceType}:`));
      const inKafka = new Set(mine.map((r) => r.headers['event-id'] ?? ''));
      const report = checkSourceOrder(mine.map(orderedRecordOf));
      const seen = notifications.filter((x) => x.key.startsWith(`${sourceType}:`));
      return {
        confirmed: confirmed.size,
        records: mine.length,
        lost: [...confirmed].filter((id) => !inKafka.has(id)).length,
        sources: report.sources,
        duplicates: report.duplicates,
        inversions: report.inversions,
        seqGaps: report.seqGaps,
        duplicateSeqMismatches: report.duplicateSeqMismatches,
        notifications: seen.length,
        notificationInversions: notificationInversions(seen).examples.length,
        examples: report.examples.slice(0, 4),
      };
    };
    await sleep(3000);
    const edgeAccount = (f: ReturnType<typeof follow>) => ({
      sources: f.got.size,
      delivered: f.count(),
      disorder: f.disorder(),
      resets: f.resets.length,
    });
    const result = {
      calm: account('calm', calm),
      failover: account('failover', failover),
      failedJobs: failed.failed,
      enqueueRetries,
      edge: {
        calmAll: edgeAccount(calmAll),
        calmOne: edgeAccount(calmOne),
        failoverAll: edgeAccount(failoverAll),
        recentCalmS3: { events: recent.events.length, complete: recent.complete },
      },
    };
    note(`account ${JSON.stringify(result)}`);
    console.log(`redis cluster: ${JSON.stringify(result)}`);
    fs.writeFileSync(
      path.join(logDir, 'result.json'),
      `${JSON.stringify({ result, log }, null, 2)}\n`,
    );

    // Without a fault, Kafka gets what a single Redis gives it. Notification order is reported,
    // not asserted: PUBLISH enters the cluster through whichever node ioredis picks, so two
    // notifications of a source can overtake each other (docs/clusters.md).
    expect(result.calm).toMatchObject({
      lost: 0,
      sources: SOURCES,
      duplicates: 0,
      inversions: 0,
      seqGaps: 0,
    });
    expect(result.calm.notifications).toBe(result.calm.confirmed);
    // Notifications with a seq go through the history script, which runs on the master of the
    // prefix's slot and publishes there: one node, in order (docs/clusters.md).
    expect(result.calm.notificationInversions).toBe(0);
    expect(result.failedJobs).toBe(0);
    // The edge on the cluster: every calm event of every source, in seq order, no reset; the
    // single-source subscriber and the recent-events API agree with Kafka.
    const calmSeqs = records
      .filter((r) => (r.key ?? '').startsWith('calm:'))
      .map(orderedRecordOf)
      .reduce(
        (m, r) => m.set(r.key, [...(m.get(r.key) ?? []), r.seq]),
        new Map<string, number[]>(),
      );
    expect(calmAll.resets).toEqual([]);
    expect(new Map([...calmAll.got].sort())).toEqual(new Map([...calmSeqs].sort()));
    expect(calmOne.resets).toEqual([]);
    expect(calmOne.got.get('calm:s3')).toEqual(calmSeqs.get('calm:s3'));
    expect(recent.complete).toBe(true);
    expect(recent.events.map((e) => e.seq)).toEqual(calmSeqs.get('calm:s3'));
    // Through the master kill: nothing twice, nothing out of order (what it cost is reported).
    expect(result.edge.failoverAll.disorder).toBe(0);
    expect(result.edge.failoverAll.delivered).toBeGreaterThan(0);
    // Through a master kill the queue drains with no failed job; what asynchronous replication
    // cost (lost, duplicates, order) is printed and kept in result.json, not asserted: Redis
    // Cluster does not promise it (measured account in docs/clusters.md).
    expect(result.failover.confirmed).toBeGreaterThan(SOURCES * 20);
    expect(result.failover.sources).toBe(SOURCES);
  }, 240_000);
});

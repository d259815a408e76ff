import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { createRedis } from '../../src/redis.js';
import { Kafka, logLevel } from 'kafkajs';
import { addStream } from '../../src/ownership/lbs.js';
import { ingestGroup } from '../../src/ingest/index.js';
import { Fleet, waitForLog } from './fleet.js';
import { generateHostileBodies, generateHostileEntries, generateHostileEvents } from './hostile.js';
import { HostileDriver } from './hostile-driver.js';
import {
  activeJobs,
  claimedFailovers,
  deleteKeys,
  failedJobs,
  judgeHostile,
  jobsOfKilledWorkers,
  QUEUE_REDIS_URL,
  waitForDrain,
  type KillSnapshot,
  explainOrder,
} from './inspect.js';
import { readWholeTopic } from './kafka-reader.js';
import { LoadDriver } from './load-driver.js';
import { LockWatcher, type Failover } from './lock-watcher.js';
import { ChaosLog } from './log.js';
import type { ManagedProcess } from './managed-process.js';
import { NotificationWatcher } from './notification-watcher.js';
import { EdgeSubscribers, explainMissing, lastSeqs } from './edge-subscribers.js';
import { edgeKeyBase, edgeKeys } from '../../src/realtime/keys.js';
import type { ChaosOptions } from './options.js';
import { createChaosKafka, killBusiestLeader } from './chaos-kafka.js';
import { freePort, ThrowawayRedis } from './redis-server.js';
import { freeRedisClusterPorts, PrivateRedisCluster } from './private-redis-cluster.js';
import { buildReport, type ChaosReport, type FaultRecord } from './report.js';
import { RssTracker } from './rss.js';
import { verify, type FaultWindow } from './verify.js';

const MAX_PAYLOAD_BYTES = 65_536;
const BODY_LIMIT_BYTES = 262_144;
const QUEUE = 'publish';
/** How long a process may take to stop on SIGTERM before it is killed (and the run fails). */
const SHUTDOWN_GRACE_MS = 20_000;

/**
 * Run the chaos scenario: private Kafka and Pub/Sub Redis, the product's processes as children,
 * steady valid load and hostile input through all three entry points, faults one after another,
 * drain, then verify the whole topic. Returns the report; `report.passed` is the verdict.
 */
export async function runChaos(o: ChaosOptions, log = new ChaosLog()): Promise<ChaosReport> {
  const runId = randomBytes(4).toString('hex');
  const ns = `chaos-${runId}`;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = path.resolve(o.artifactsDir, `chaos-${stamp}`);
  fs.mkdirSync(logDir, { recursive: true });
  log.phase(
    `run ${ns}: ${o.short ? 'short' : 'full'} variant, load ${o.durationS} s at ${o.rate} events/s, ` +
      `${o.hostilePerEntry} hostile inputs per entry point, seed ${o.seed}; child logs in ${logDir}`,
  );

  const cleanups: Array<() => Promise<unknown>> = [];
  const killed = new Set<ManagedProcess>();
  const faults: FaultRecord[] = [];
  const windows: FaultWindow[] = [];
  const pubsubDown: FaultWindow[] = [];
  const killSnapshots: KillSnapshot[] = [];
  const inFlightAtKafkaKill = new Set<string>();
  const activeAtRedisKill = new Set<string>();
  const redisMasterKills: FaultWindow[] = [];
  const failovers: Array<{ fault: string; failovers: Failover[] }> = [];
  const rss = new RssTracker();
  let sampler: NodeJS.Timeout | undefined;

  const kafka = await createChaosKafka(o.cluster, o.kafkaPort, log);
  const pubsub = new ThrowawayRedis(await freePort());
  // The queue Redis: the shared one, or a private Redis Cluster whose keys of one queue share a
  // slot through the hash tag in the prefix.
  const redisCluster = o.redisCluster
    ? new PrivateRedisCluster(await freeRedisClusterPorts(), (line) => log.info(line))
    : undefined;
  const queueRedisUrl = redisCluster?.url ?? QUEUE_REDIS_URL;
  const prefix = redisCluster ? `{${ns}}` : ns;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      if (sampler) clearInterval(sampler);
      log.phase('cleaning up');
      for (const c of cleanups.reverse()) {
        await c().catch((err: unknown) => log.warn(`cleanup: ${String(err)}`));
      }
      // A private Redis Cluster goes away with its keys.
      if (!o.keep && !redisCluster) {
        await deleteKeys(ns).catch((err: unknown) => log.warn(`key cleanup: ${String(err)}`));
      }
    })());
  // Ctrl-C must not leave the private broker (a detached process) or the children running.
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn(`${signal}: aborting the run`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const topic = ns;

  try {
    // ---- infrastructure
    log.phase(`starting private ${kafka.label} on ${kafka.address} (run dir ${kafka.runDir})`);
    cleanups.push(() => kafka.destroy(o.keep));
    const kafkaStartMs = await kafka.start();
    kafka.track(rss);
    log.info(`private ${kafka.label} ready in ${(kafkaStartMs / 1000).toFixed(1)} s`);
    await createTopic(kafka.brokers, topic, kafka.partitions);
    if (redisCluster) {
      log.phase(`starting a private Redis Cluster (3 masters, 3 replicas) on ${redisCluster.url}`);
      cleanups.push(() => redisCluster.destroy());
      await redisCluster.start();
    }
    const redis = createRedis(queueRedisUrl, { name: 'chaos' });
    cleanups.push(() => redis.quit());
    await pubsub.start();
    cleanups.push(() => pubsub.kill('SIGTERM'));
    rss.track('pubsub-redis', pubsub.pid);
    log.info(`Pub/Sub Redis on ${pubsub.url} (pid ${pubsub.pid})`);

    // ---- data streams, registered in the LBS the way a Go producer does
    const streams = Array.from({ length: o.streams }, (_, i) => `${ns}-ds-${i}`);
    for (const s of streams) await addStream(redis, ns, s, { chaos: runId });

    // ---- the product's processes
    const boardPort = await freePort();
    const token = randomBytes(24).toString('hex');
    const fleet = new Fleet({
      runId,
      logDir,
      env: {
        REDIS_URL: queueRedisUrl,
        PUBSUB_REDIS_URL: pubsub.url,
        KAFKA_BROKERS: kafka.address,
        KAFKA_TOPIC: topic,
        DUALSTREAM_PREFIX: prefix,
        DUALSTREAM_QUEUE: QUEUE,
        DUALSTREAM_SERVICE: ns,
        DUALSTREAM_CHANNEL_PREFIX: ns,
        LOCK_TTL_MS: String(o.lockTtlMs),
        SWEEP_INTERVAL_MS: String(Math.max(1000, o.lockTtlMs)),
        JOB_ATTEMPTS: '50',
        BACKOFF_DELAY_MS: '200',
        KAFKA_COOLDOWN_MS: '2000',
        WORKER_CONCURRENCY: '64',
        MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
        BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
        HOST: '127.0.0.1',
        PORT: String(boardPort),
        BOARD_TOKEN: token,
        LOG_LEVEL: process.env.CHAOS_CHILD_LOG_LEVEL ?? 'info',
        // On a Redis Cluster, admissions wait for the replica (docs/clusters.md, a master kill).
        ORDER_WAIT_REPLICAS: process.env.CHAOS_ORDER_WAIT_REPLICAS ?? (redisCluster ? '1' : '0'),
      },
    });
    cleanups.push(() => fleet.terminateAll());
    log.phase(`starting ${o.workers} workers, ${o.ingesters} ingesters and the board`);
    const starting: Array<Promise<void>> = [];
    for (let i = 0; i < o.workers; i++)
      starting.push(waitForLog(fleet.spawn('worker'), /publish worker running/, 90_000));
    for (let i = 0; i < o.ingesters; i++)
      starting.push(waitForLog(fleet.spawn('ingest'), /stream ingester running/, 90_000));
    starting.push(waitForLog(fleet.spawn('board'), /HTTP server listening/, 90_000));
    await Promise.all(starting);
    const httpUrl = `http://127.0.0.1:${boardPort}/v1/events`;
    const httpAuth = `Bearer ${token}`;
    sampler = setInterval(() => {
      fleet.sample();
      rss.sample();
    }, 1000);

    const watcher = new NotificationWatcher(pubsub.url, `${ns}:*`);
    await watcher.start();
    cleanups.push(() => watcher.close());
    const locks = new LockWatcher(redis, ns, streams, 100, redisCluster !== undefined);
    locks.start();
    cleanups.push(async () => locks.stop());

    // ---- load and hostile input
    // On a cluster the app hands BullMQ a Cluster client (BullMQ does not read cluster URLs).
    const queueConnection = redisCluster
      ? createRedis(queueRedisUrl, { name: 'chaos-app', blocking: true })
      : undefined;
    if (queueConnection) cleanups.push(() => queueConnection.quit());
    const plainQueue = new Queue(QUEUE, {
      connection: queueConnection ?? { url: QUEUE_REDIS_URL },
      prefix,
    });
    cleanups.push(() => plainQueue.close());
    const load = new LoadDriver({
      runId,
      ratePerSec: o.rate,
      plainQueue,
      httpUrl,
      httpAuth,
      redis,
      streams,
      sources: 20,
      maxInFlight: 500,
    });
    const hostileEvents = generateHostileEvents(
      o.hostilePerEntry,
      o.seed,
      `H${runId}b`,
      MAX_PAYLOAD_BYTES,
    );
    const hostile = new HostileDriver({
      plainQueue,
      httpUrl,
      httpAuth,
      redis,
      streams,
      jobs: hostileEvents.events,
      bodies: generateHostileBodies(o.hostilePerEntry, o.seed + 10, `H${runId}h`, {
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
        bodyLimitBytes: BODY_LIMIT_BYTES,
      }),
      entries: generateHostileEntries(
        o.hostilePerEntry,
        o.seed + 20,
        `H${runId}s`,
        MAX_PAYLOAD_BYTES,
      ),
      durationMs: o.durationS * 800,
    });

    // Subscribers of the real-time edge (the board serves it): they live through every fault.
    const subscribers = new EdgeSubscribers(`http://127.0.0.1:${boardPort}`, httpAuth);
    subscribers.startTyped('typed client chaos:*', ['chaos:*']);
    subscribers.startTyped('typed client 2 sources', ['chaos:b-repo-2', 'chaos:b-repo-11']);
    subscribers.startRaw('SSE chaos:*', ['chaos:*']);
    subscribers.startRaw('SSE 2 sources', ['chaos:b-repo-3', 'chaos:b-repo-12']);
    cleanups.push(() => subscribers.stop());
    if (!(await subscribers.ready(20_000))) log.warn('edge subscribers not subscribed after 20 s');

    const loadStart = Date.now();
    log.phase(
      `load starts: ${o.rate} events/s and ${hostile.total} hostile inputs over ${o.durationS} s`,
    );
    load.start();
    hostile.start();
    const at = (s: number) => sleep(Math.max(0, loadStart + s * 1000 - Date.now()));
    const gap = () => sleep(Math.max(3, 0.06 * o.durationS) * 1000);
    await at(Math.max(4, 0.08 * o.durationS));

    // Fault 0, on a cluster only: kill -9 the node leading the most partitions under load; the
    // two left still meet min.insync.replicas 2, so the workers carry on through a leader change.
    if (kafka.cluster) {
      const f = log.fault(`kill -9 the Kafka node leading the most partitions of ${topic}`);
      const k = await killBusiestLeader(kafka.cluster, topic, o.kafkaDownS, log, async () => {
        for (const j of await activeJobs(redis, plainQueue)) inFlightAtKafkaKill.add(j.eventId);
      });
      kafka.track(rss);
      const r = log.recover(
        `node ${k.node} (led ${k.ledPartitions} partitions, pid ${k.pid}) back in every ISR; ` +
          `${inFlightAtKafkaKill.size} jobs were active between its kill and then`,
      );
      faults.push({
        fault: `kill -9 Kafka leader node ${k.node}`,
        at: f.at,
        pid: k.pid,
        recoveredAt: r.at,
        downS: (Date.parse(r.at) - Date.parse(f.at)) / 1000,
      });
      windows.push({ name: 'Kafka leader killed', from: Date.parse(f.at), to: Date.parse(r.at) });
      await gap();
    }

    // Fault 0b, on a Redis Cluster only: kill -9 the master serving the queue's slot (the queue,
    // its order state and its jobs' locks), wait for its replica's promotion, start the old master
    // again (it rejoins as a replica). Redis replicates asynchronously: the verifier accounts for
    // every event this costs.
    if (redisCluster) {
      const slotKey = `${prefix}:${QUEUE}:meta`;
      const port = await redisCluster.masterOf(slotKey);
      for (const j of await activeJobs(redis, plainQueue)) activeAtRedisKill.add(j.eventId);
      const f = log.fault(`kill -9 the Redis master serving the queue's slot (port ${port})`);
      const pid = await redisCluster.kill(port);
      const promoted = await waitForPromotion(redisCluster, slotKey, port, 30_000);
      const r = log.recover(
        promoted === undefined
          ? `no replica promoted for the queue's slot within 30 s`
          : `replica on port ${promoted} promoted for the queue's slot`,
      );
      // Jobs whose lock or completion the promoted replica may lack.
      for (const j of await activeJobs(redis, plainQueue).catch(() => []))
        activeAtRedisKill.add(j.eventId);
      await redisCluster.restart(port);
      log.recover(
        `old master on port ${port} restarted as ${await redisCluster.role(port).catch(() => '?')}; ` +
          `${activeAtRedisKill.size} jobs were active around the kill`,
      );
      faults.push({
        fault: `kill -9 Redis master :${port}`,
        at: f.at,
        pid,
        recoveredAt: r.at,
        downS: (Date.parse(r.at) - Date.parse(f.at)) / 1000,
      });
      const w = { name: 'Redis master killed', from: Date.parse(f.at), to: Date.parse(r.at) };
      windows.push(w);
      redisMasterKills.push(w);
      await gap();
    }

    // Fault 1: kill -9 Kafka (on a cluster: every node), restart it after kafkaDownS.
    {
      const f = log.fault(`kill -9 ${kafka.label} ${kafka.address}`);
      const pid = await kafka.kill();
      // Every job whose produce request was in flight at the kill is still active now (its send
      // fails only after the client's retries): the bound for broker-kill duplicates.
      for (const j of await activeJobs(redis, plainQueue)) inFlightAtKafkaKill.add(j.eventId);
      log.info(`${inFlightAtKafkaKill.size} jobs active right after the broker kill`);
      await sleep(o.kafkaDownS * 1000);
      log.recover(`restarting Kafka after ${o.kafkaDownS} s down`);
      const ms = await kafka.restart();
      kafka.track(rss);
      const r = log.recover(
        `${kafka.label} serving again (${pid} killed; restart took ${(ms / 1000).toFixed(1)} s)`,
      );
      faults.push({
        fault: `kill -9 ${kafka.cluster ? 'every Kafka node' : 'Kafka'}`,
        at: f.at,
        recoveredAt: r.at,
        downS: (Date.parse(r.at) - Date.parse(f.at)) / 1000,
      });
      windows.push({ name: 'Kafka down', from: Date.parse(f.at), to: Date.parse(r.at) });
    }

    // Fault 2: kill -9 a worker while it works off the backlog Kafka's outage left (that is when
    // jobs sit between the Kafka ack and the receipt), start a replacement. SIGSTOP first so that
    // the snapshot of its active jobs is exact (a stopped worker fetches nothing), then SIGKILL.
    {
      await untilActive(plainQueue, 20, 10_000);
      const victim = fleet.alive('worker')[0]!;
      victim.signal('SIGSTOP');
      const jobs = await activeJobs(redis, plainQueue);
      const f = log.fault(
        `kill -9 ${victim.name} (pid ${victim.pid}); ${jobs.length} jobs active in the queue at the kill`,
      );
      await victim.kill9();
      killed.add(victim);
      killSnapshots.push({ at: Date.now(), worker: victim.name, jobs });
      const repl = fleet.spawn('worker');
      log.recover(`started replacement ${repl.name} (pid ${repl.pid})`);
      faults.push({
        fault: `kill -9 ${victim.name}`,
        at: f.at,
        process: victim.name,
        pid: victim.pid,
      });
      windows.push({
        name: `worker ${victim.name} killed`,
        from: Date.parse(f.at),
        to: Date.parse(f.at) + 5000,
      });
      void waitForLog(repl, /publish worker running/, 90_000).then(
        () => log.recover(`${repl.name} running`),
        (err: unknown) => log.warn(String(err)),
      );
    }
    await gap();

    // Fault 3: kill the Pub/Sub Redis, restart it on the same port.
    {
      const pid = pubsub.pid;
      const f = log.fault(`kill -9 Pub/Sub Redis ${pubsub.url} (pid ${pid})`);
      await pubsub.kill();
      await sleep(o.pubsubDownS * 1000);
      await pubsub.start();
      rss.track('pubsub-redis', pubsub.pid);
      const r = log.recover(`Pub/Sub Redis back on ${pubsub.url} (pid ${pubsub.pid})`);
      faults.push({
        fault: 'kill -9 Pub/Sub Redis',
        at: f.at,
        pid,
        recoveredAt: r.at,
        downS: (Date.parse(r.at) - Date.parse(f.at)) / 1000,
      });
      const w = { name: 'Pub/Sub Redis down', from: Date.parse(f.at), to: Date.parse(r.at) };
      windows.push(w);
      pubsubDown.push(w);
    }
    await gap();

    // Fault 4: kill -9 an ingester that owns streams.
    {
      const victim = pickOwner(fleet.alive('ingest'), locks);
      const owner = victim.pid === undefined ? undefined : locks.ownerOfPid(victim.pid);
      const f = log.fault(`kill -9 ${victim.name} (pid ${victim.pid}, owner ${owner ?? '?'})`);
      const t = Date.parse(f.at);
      await victim.kill9();
      killed.add(victim);
      const moved = await waitForFailover(locks, owner, t, o.lockTtlMs * 10);
      const r = log.recover(`streams of ${victim.name} moved: ${describeFailovers(moved)}`);
      failovers.push({ fault: `kill -9 ${victim.name}`, failovers: moved });
      faults.push({
        fault: `kill -9 ${victim.name}`,
        at: f.at,
        process: victim.name,
        pid: victim.pid,
        recoveredAt: r.at,
      });
      windows.push({
        name: `ingester ${victim.name} killed`,
        from: t,
        to: Math.max(Date.parse(r.at), t + 1000),
      });
      const repl = fleet.spawn('ingest');
      log.recover(`started replacement ${repl.name} (pid ${repl.pid})`);
    }
    await gap();

    // Fault 5: SIGSTOP an ingester past its lock TTL, then SIGCONT: it must notice it was
    // disowned and not act on the streams it lost.
    {
      const victim = pickOwner(fleet.alive('ingest'), locks);
      const owner = victim.pid === undefined ? undefined : locks.ownerOfPid(victim.pid);
      const stallMs = Math.round(o.lockTtlMs * 2.5);
      victim.signal('SIGSTOP');
      const f = log.fault(
        `SIGSTOP ${victim.name} (pid ${victim.pid}, owner ${owner ?? '?'}) for ${stallMs} ms (lock TTL ${o.lockTtlMs} ms)`,
      );
      const t = Date.parse(f.at);
      await sleep(stallMs);
      victim.signal('SIGCONT');
      const r = log.recover(`SIGCONT ${victim.name}`);
      const moved = await waitForFailover(locks, owner, t, o.lockTtlMs * 5);
      log.info(`streams of the stalled ${victim.name}: ${describeFailovers(moved)}`);
      failovers.push({ fault: `SIGSTOP ${victim.name}`, failovers: moved });
      faults.push({
        fault: `SIGSTOP ${victim.name} ${stallMs} ms`,
        at: f.at,
        process: victim.name,
        pid: victim.pid,
        recoveredAt: r.at,
      });
      windows.push({ name: `ingester ${victim.name} stopped`, from: t, to: Date.parse(r.at) });
    }

    await at(o.durationS);
    await sleep(Math.max(0, loadStart + o.durationS * 1000 - Date.now()));
    log.phase('load stops; sending the rest of the hostile input');
    await load.stop();
    await hostile.stop();
    const loadEnd = Date.now();

    // ---- drain
    log.phase(`draining (at most ${o.drainTimeoutS} s)`);
    const drain = await waitForDrain(
      redis,
      plainQueue,
      streams,
      ingestGroup(ns),
      o.drainTimeoutS * 1000,
      log,
    );
    log.phase(
      drain.drained
        ? `drained in ${(drain.ms / 1000).toFixed(1)} s`
        : `NOT drained after ${(drain.ms / 1000).toFixed(1)} s: ${drain.detail}`,
    );
    if (!drain.drained) {
      // On a cluster the queue's keys are on one master; ask each.
      const nodes = redisCluster ? (redis as unknown as Cluster).nodes('master') : [redis];
      for (const node of nodes) {
        const lines = await explainOrder(node, plainQueue).catch((err: unknown) => [String(err)]);
        for (const line of lines) log.warn(`order: ${line}`);
      }
    }
    // Let the last notifications arrive before counting them.
    await sleep(1000);

    // ---- verify
    log.phase(`reading topic ${topic} from the beginning with a fresh consumer`);
    const read = await readWholeTopic(kafka.brokers, topic, 120_000);
    log.info(
      `read ${read.records.length} records (high watermarks ${JSON.stringify(read.highWatermarks)})`,
    );

    const maxSeq = lastSeqs(read.records, 'chaos');
    const caughtUp = await subscribers.caughtUp(maxSeq, 30_000);
    await subscribers.stop();
    const subscriberVerdicts = subscribers.verdicts(maxSeq);
    log.info(
      `edge subscribers ${caughtUp ? 'caught up' : 'NOT caught up after 30 s'}: ${subscriberVerdicts.map((v) => `${v.name}: ${v.delivered} delivered, ${v.resets} resets, ${v.missingUnexplained} missing`).join('; ')}`,
    );

    // Where each sampled missing event is (a writer that never wrote it, or a reader that did
    // not deliver it): its source history and the type stream of the Pub/Sub Redis.
    await explainMissing(
      pubsub.url,
      edgeKeys(edgeKeyBase(prefix, ns)),
      subscriberVerdicts,
      (line) => log.info(line),
    );

    const killedWorkerJobs = await jobsOfKilledWorkers(plainQueue, killSnapshots);
    const result = verify({
      records: read.records,
      offered: load.events,
      derivedIds: load.derivedIds,
      hostile: hostile.outcomes,
      activeAtWorkerKill: new Set(killedWorkerJobs.map((j) => j.eventId)),
      inFlightAtKafkaKill,
      redisMasterKills,
      activeAtRedisKill,
      windows,
      loadStart,
      loadEnd,
      notified: watcher.received,
      pubsubDown,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
    });
    const hostileSummary = await judgeHostile(plainQueue, redis, ingestGroup(ns), hostile, result);
    const failed = await failedJobs(plainQueue, load);
    fleet.sample();
    rss.sample();
    const peakRss: Record<string, number> = { orchestrator: process.resourceUsage().maxRSS };
    for (const p of fleet.all) peakRss[p.name] = p.peakRssKb;
    Object.assign(peakRss, rss.peaksKb());

    const productFailoverMs = claimedFailovers(
      fleet.all.filter((p) => p.role === 'ingest').map((p) => p.logFile),
    );
    const unexpected = fleet
      .unexpectedExits(killed)
      .map((p) => `${p.name} (pid ${p.pid}) ${JSON.stringify(p.exit)}`);
    // Every process still running must stop on SIGTERM within the grace, whatever it lived
    // through: finish its jobs, hand its streams off, close its connections.
    log.phase('stopping the fleet (SIGTERM)');
    const stopStarted = Date.now();
    await fleet.terminateAll(SHUTDOWN_GRACE_MS);
    const notGraceful = fleet.all
      .filter((p) => !killed.has(p) && p.exit?.signal === 'SIGKILL')
      .map(
        (p) => `${p.name} (pid ${p.pid}) still running ${SHUTDOWN_GRACE_MS / 1000} s after SIGTERM`,
      );
    log.info(`fleet stopped in ${((Date.now() - stopStarted) / 1000).toFixed(1)} s`);
    return buildReport({
      runId: ns,
      options: o,
      startedAt: new Date(log.startedAt).toISOString(),
      loadStart,
      loadEnd,
      result,
      hostile: hostileSummary,
      discardedValidHostile: hostileEvents.discardedValid,
      skippedOffers: load.skipped,
      faults,
      inFlightAtKafkaKill: inFlightAtKafkaKill.size,
      killSnapshots: killSnapshots.map((k) => ({
        worker: k.worker,
        activeInQueue: k.jobs.length,
        activeInKilledWorker: killedWorkerJobs.filter((j) => j.worker === k.worker).length,
      })),
      failovers,
      productFailoverMs,
      failed,
      drain,
      notificationsReceived: watcher.messages,
      notificationsWithPayload: watcher.withPayload,
      subscribers: subscriberVerdicts,
      peakRssKb: peakRss,
      unexpectedExits: unexpected,
      notGraceful,
      timeline: log.entries,
      logDir,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

/** The run's topic; replication and min.insync.replicas are the brokers' defaults (3 and 2 on a
 * cluster). */
async function createTopic(brokers: string[], topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({
    clientId: 'chaos-admin',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    // Not kafkajs' waitForLeaders: it gives up on UNKNOWN_TOPIC_OR_PARTITION, which a cluster
    // answers until every node has the new topic's metadata.
    for (let i = 0; ; i++) {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      const list = meta?.topics[0]?.partitions ?? [];
      if (list.length === partitions && list.every((p) => p.leader >= 0)) break;
      if (i > 150) throw new Error(`topic ${topic} has no leaders after 30 s`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Port of the master that took over `key`'s slot from the killed one (undefined: none in time). */
async function waitForPromotion(
  cluster: PrivateRedisCluster,
  key: string,
  killedPort: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const port = await cluster.masterOf(key).catch(() => undefined);
    if (port !== undefined && port !== killedPort) return port;
    await sleep(100);
  }
  return undefined;
}

/** Wait until at least `min` jobs are active (bounded): the moment to kill a busy worker. */
async function untilActive(queue: Queue, min: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await queue.getActiveCount()) >= min) return;
    await sleep(50);
  }
}

function pickOwner(candidates: ManagedProcess[], locks: LockWatcher): ManagedProcess {
  const owners = new Set([...locks.owners().values()].filter(Boolean));
  const holder = candidates.find((p) => p.pid !== undefined && owners.has(locks.ownerOfPid(p.pid)));
  return holder ?? candidates[0]!;
}

async function waitForFailover(
  locks: LockWatcher,
  owner: string | undefined,
  at: number,
  timeoutMs: number,
): Promise<Failover[]> {
  if (!owner) return [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const moved = locks.failoversFrom(owner, at);
    if (moved.every((f) => f.ms !== undefined) || Date.now() > deadline) return moved;
    await sleep(100);
  }
}

function describeFailovers(list: Failover[]): string {
  if (list.length === 0) return 'it held no stream lock';
  return list
    .map(
      (f) =>
        `${f.stream.replace(/^chaos-[0-9a-f]+-/, '')} ${f.ms === undefined ? 'NOT moved' : `${(f.ms / 1000).toFixed(2)} s`}`,
    )
    .join(', ');
}

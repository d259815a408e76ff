// Stream ownership on a Redis Cluster (3 masters, 3 replicas): three real ingester processes with
// REDIS_URL=redis+cluster://… own nine data streams, four with a hash tag in their name and five
// without (their lock and meta keys get one of their own, in the stream's slot). Entries keep
// arriving; the busiest owner is killed with kill -9. Its locks expire on whichever masters hold
// them, the expired-key events of every node reach the others, and each of its streams is claimed
// again; Kafka gets every entry exactly once. Then one stream is finished with doneStream, whose
// two steps (the stream's slot, then the LBS) must leave nothing pending.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createPublishWorker } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { StreamOwnershipClient, lbsGroup, lbsKey, lockKey } from '../../src/ownership/index.js';
import { freeRedisClusterPorts, PrivateRedisCluster } from '../chaos/private-redis-cluster.js';
import { deriveEventId } from '../../src/ingest/index.js';
import { createTopic, deleteTopics, readTopic, waitFor } from '../helpers/pipeline-kit.js';
import {
  Fleet,
  expectExactlyOnceInKafka,
  firstClaimMs,
  ownershipConfig,
  ownershipEnv,
  sleep,
  startProducer,
  uniqService,
} from '../helpers/ownership-kit.js';

const TTL = 1000;

describe('stream ownership on Redis Cluster', () => {
  const log: string[] = [];
  const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);
  let cluster: PrivateRedisCluster;
  let redis: Redis;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    cluster = new PrivateRedisCluster(await freeRedisClusterPorts(), note);
    await cluster.start();
    redis = createRedis(cluster.url, { name: 'test-ownership-cluster' });
    redis.on('error', () => undefined);
  }, 120_000);

  afterAll(async () => {
    // Each step is bounded: a connection caught in a failover must not hold the hook.
    for (const c of cleanups.reverse()) {
      const timedOut = await Promise.race([
        c().then(
          () => false,
          () => false,
        ),
        sleep(20_000).then(() => true),
      ]);
      if (timedOut) console.log(`cleanup step timed out: ${c.toString()}`);
    }
    redis?.disconnect();
    await cluster?.destroy();
  }, 240_000);

  /**
   * Three ingester processes, a publish worker and nine registered streams (four hash-tagged,
   * five not), all on the cluster; resolves once every stream was added.
   */
  async function startFleet() {
    const service = uniqService();
    const env = {
      REDIS_URL: cluster.url,
      DUALSTREAM_PREFIX: `{${service}}`,
      LOCK_TTL_MS: String(TTL),
      SWEEP_INTERVAL_MS: '1000',
    };
    const config = ownershipConfig(service, env);
    const topic = config.kafka.topic;
    await createTopic(topic);
    cleanups.push(() => deleteTopics(topic));
    const names = [
      ...Array.from({ length: 4 }, (_, i) => `{${service}-t${i}}-orders`),
      ...Array.from({ length: 5 }, (_, i) => `${service}-d${i}`),
    ];
    const fleet = new Fleet(ownershipEnv(service, env));
    cleanups.push(() => fleet.closeAll());
    await fleet.spawn(3);
    for (const name of names) {
      await redis.xadd(
        lbsKey(service),
        '*',
        'lbs-input',
        JSON.stringify({ DataStreamName: name, Info: {} }),
      );
    }
    await fleet.waitFor(
      () => fleet.of('StreamAdded').length >= names.length,
      30_000,
      'streams added',
    );
    const worker = createPublishWorker(config, { concurrency: 32, drainDelay: 1 });
    worker.on('error', () => undefined);
    cleanups.push(() => worker.close());
    const queue = new Queue(config.queue.name, { connection: redis, prefix: config.redis.prefix });
    cleanups.push(() => queue.close());
    /** Whether every stream's lock (cluster layout) is held by a live process. */
    const ownedByLiveProcesses = async () => {
      const owners = await Promise.all(names.map((n) => redis.get(lockKey(service, n, true))));
      const ids = new Set(fleet.children.filter((c) => !c.exited).map((c) => c.id));
      return owners.map((o) => (o ? ids.has(o.slice(o.indexOf('|') + 1)) : false));
    };
    return { service, config, topic, names, fleet, queue, ownedByLiveProcesses };
  }

  it('kill -9 of an owner: every stream is claimed again within TTL + 2 s and Kafka gets every entry once', async () => {
    onTestFailed(() => console.log(log.join('\n')));
    const { topic, names, fleet: f, queue, ownedByLiveProcesses } = await startFleet();
    const producer = startProducer(redis, names);
    await sleep(1000);
    const victim = f.busiest();
    const theirs = f.ownedBy(victim);
    expect(theirs.size).toBeGreaterThan(0);
    const before = f.messages.length;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const claims = await f.takeover(theirs, before, 15_000);
    await sleep(1000);
    await producer.stop();

    const byStream = firstClaimMs(claims(), killedAt);
    console.log(
      `cluster: kill -9 of ${victim.name} (${theirs.size} streams): taken over after ${[...byStream.values()].join(', ')} ms; reasons ${[...new Set(claims().map((m) => m.reason))].join(',')}`,
    );
    expect(claims().every((m) => m.child !== victim.name)).toBe(true);
    expect(Math.max(...byStream.values())).toBeLessThanOrEqual(TTL + 2000);
    // The expired-key events came from the nodes holding the locks, not only from the sweep.
    expect(claims().some((m) => m.reason === 'expired')).toBe(true);
    await expectExactlyOnceInKafka(queue, topic, producer.expected);
    expect(await ownedByLiveProcesses()).toEqual(names.map(() => true));
  }, 180_000);

  it('kill -9 of the Redis master holding the most locks: every stream ends with one live owner; what the failover cost is accounted for', async () => {
    onTestFailed(() => console.log(log.join('\n')));
    const { service, config, topic, names, fleet, queue, ownedByLiveProcesses } =
      await startFleet();
    const producer = startProducer(redis, names, 25, { tolerateErrors: true });
    await sleep(1500);
    // The master holding the most locks, other than the one serving the publish queue (that
    // failover is redis-cluster.test.ts's): the account below can then name every loss.
    const queueMaster = await cluster.masterOf(`${config.redis.prefix}:${config.queue.name}:wait`);
    const masters = await Promise.all(
      names.map((n) => cluster.masterOf(lockKey(service, n, true))),
    );
    const perMaster = new Map<number, string[]>();
    names.forEach((n, i) => {
      if (masters[i] !== queueMaster)
        perMaster.set(masters[i]!, [...(perMaster.get(masters[i]!) ?? []), n]);
    });
    const [victim, hit] = [...perMaster].sort((a, b) => b[1].length - a[1].length)[0]!;
    note(`kill -9 of master ${victim}, holding the locks of ${hit.length} streams`);
    const killedAt = Date.now();
    await cluster.kill(victim);
    await waitFor(
      async () =>
        (await cluster.masterOf(lockKey(service, hit[0]!, true)).catch(() => victim)) !== victim,
      30_000,
      'a replica to take over',
    );
    const promotedMs = Date.now() - killedAt;
    await sleep(2000);
    await cluster.restart(victim);
    await waitFor(async () => (await cluster.role(victim)) === 'slave', 30_000, 'rejoin');
    await sleep(2000);
    await producer.stop();
    await waitFor(
      async () => (await ownedByLiveProcesses()).every(Boolean),
      30_000,
      'every stream owned by a live process',
    ).catch(async (err: unknown) => {
      const locks = await Promise.all(
        names.map(async (n) => `${n}=${await redis.get(lockKey(service, n, true))}`),
      );
      note(`locks: ${locks.join(' ')}`);
      note(`fleet: ${JSON.stringify(fleet.messages.slice(-40))}`);
      throw err;
    });
    await waitFor(
      async () => {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((v) => v === 0);
      },
      60_000,
      'the publish queue to drain',
    );
    await sleep(1000);

    // Account: what Kafka lacks, split into what Redis itself lost (the entry is no longer in its
    // data stream: acknowledged by the dying master, never replicated) and what is still there.
    const failed = await queue.getJobCounts('failed');
    const records = await readTopic(topic);
    const seen = new Map<string, number>();
    for (const r of records) {
      const id = (JSON.parse(r.value) as { id: string }).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    let lostByRedis = 0;
    let stillInStream = 0;
    for (const [stream, ids] of producer.entries) {
      for (const id of ids) {
        if (seen.has(deriveEventId(stream, id))) continue;
        if ((await redis.xrange(stream, id, id)).length === 0) lostByRedis += 1;
        else stillInStream += 1;
      }
    }
    const account = {
      promotedMs,
      streamsHit: hit.length,
      accepted: producer.expected.length,
      refusedDuringFailover: producer.failed(),
      inKafka: seen.size,
      lostByRedis,
      missingButInStream: stillInStream,
      duplicates: [...seen.values()].filter((n) => n > 1).length,
      failedJobs: failed.failed,
    };
    console.log(`cluster master kill (ownership): ${JSON.stringify(account)}`);
    expect(account.failedJobs).toBe(0);
    // Every entry Redis still holds reached Kafka: nothing was stranded by the lost locks.
    expect(account.missingButInStream).toBe(0);
    expect(account.inKafka).toBeGreaterThan(0);
  }, 240_000);

  it('doneStream finishes a stream in both slots: the lock is gone, the LBS entry acknowledged and deleted', async () => {
    const service = uniqService();
    const config = ownershipConfig(service, {
      REDIS_URL: cluster.url,
      DUALSTREAM_PREFIX: `{${service}}`,
      LOCK_TTL_MS: String(TTL),
    });
    const client = new StreamOwnershipClient(config, { keyspaceEvents: true });
    try {
      const notifications = await client.init();
      const stream = `${service}-done`;
      const lbsId = await redis.xadd(
        lbsKey(service),
        '*',
        'lbs-input',
        JSON.stringify({ DataStreamName: stream, Info: {} }),
      );
      let added = false;
      for await (const n of notifications) {
        if (n.type === 'StreamAdded' && n.stream === stream) {
          added = true;
          break;
        }
      }
      expect(added).toBe(true);
      expect(await redis.exists(lockKey(service, stream, true))).toBe(1);
      await client.doneStream(stream);
      expect(await redis.exists(lockKey(service, stream, true))).toBe(0);
      const pending = (await redis.call('XPENDING', lbsKey(service), lbsGroup(service))) as [
        number,
        ...unknown[],
      ];
      expect(Number(pending[0])).toBe(0);
      expect(await redis.xrange(lbsKey(service), lbsId!, lbsId!)).toEqual([]);
    } finally {
      await client.close();
    }
  }, 60_000);
});

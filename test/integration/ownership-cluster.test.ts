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
import { createPublishWorker, type PublishWorker } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { StreamOwnershipClient, lbsGroup, lbsKey, lockKey } from '../../src/ownership/index.js';
import { freeRedisClusterPorts, PrivateRedisCluster } from '../chaos/private-redis-cluster.js';
import { createTopic, deleteTopics } from '../helpers/pipeline-kit.js';
import {
  Fleet,
  expectExactlyOnceInKafka,
  ownershipConfig,
  ownershipEnv,
  sleep,
  startProducer,
  uniqService,
  type FleetChild,
} from '../helpers/ownership-kit.js';

const TTL = 1000;

describe('stream ownership on Redis Cluster', () => {
  const log: string[] = [];
  const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);
  let cluster: PrivateRedisCluster;
  let redis: Redis;
  let fleet: Fleet | undefined;
  let worker: PublishWorker | undefined;
  let queue: Queue | undefined;
  let topic: string | undefined;

  beforeAll(async () => {
    cluster = new PrivateRedisCluster(await freeRedisClusterPorts(), note);
    await cluster.start();
    redis = createRedis(cluster.url, { name: 'test-ownership-cluster' });
  }, 120_000);

  afterAll(async () => {
    await fleet?.closeAll();
    await worker?.close();
    await queue?.close();
    redis?.disconnect();
    if (topic) await deleteTopics(topic).catch(() => undefined);
    await cluster?.destroy();
  }, 120_000);

  it('kill -9 of an owner: every stream is claimed again within TTL + 2 s and Kafka gets every entry once', async () => {
    onTestFailed(() => console.log(log.join('\n')));
    const service = uniqService();
    const env = {
      REDIS_URL: cluster.url,
      DUALSTREAM_PREFIX: `{${service}}`,
      LOCK_TTL_MS: String(TTL),
      SWEEP_INTERVAL_MS: '1000',
    };
    const config = ownershipConfig(service, env);
    topic = config.kafka.topic;
    await createTopic(topic);
    const names = [
      ...Array.from({ length: 4 }, (_, i) => `{${service}-t${i}}-orders`),
      ...Array.from({ length: 5 }, (_, i) => `${service}-d${i}`),
    ];
    fleet = new Fleet(ownershipEnv(service, env));
    await fleet.spawn(3);
    for (const name of names) {
      await redis.xadd(
        lbsKey(service),
        '*',
        'lbs-input',
        JSON.stringify({ DataStreamName: name, Info: {} }),
      );
    }
    const f = fleet;
    await f.waitFor(() => f.of('StreamAdded').length >= names.length, 30_000, 'streams added');
    worker = createPublishWorker(config, { concurrency: 32, drainDelay: 1 });
    worker.on('error', () => undefined);
    queue = new Queue(config.queue.name, { connection: redis, prefix: config.redis.prefix });

    const producer = startProducer(redis, names);
    await sleep(1000);
    const victim = [...f.children].sort((a, b) => f.ownedBy(b).size - f.ownedBy(a).size)[0]!;
    const theirs = f.ownedBy(victim);
    expect(theirs.size).toBeGreaterThan(0);
    const before = f.messages.length;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const claims = await f.takeover(theirs, before, 15_000);
    await sleep(1000);
    await producer.stop();

    const byStream = new Map<string, number>();
    for (const m of claims())
      if (m.stream && !byStream.has(m.stream)) byStream.set(m.stream, m.at - killedAt);
    console.log(
      `cluster: kill -9 of ${victim.name} (${theirs.size} streams): taken over after ${[...byStream.values()].join(', ')} ms; reasons ${[...new Set(claims().map((m) => m.reason))].join(',')}`,
    );
    expect(claims().every((m) => m.child !== victim.name)).toBe(true);
    expect(Math.max(...byStream.values())).toBeLessThanOrEqual(TTL + 2000);
    // The expired-key events came from the nodes holding the locks, not only from the sweep.
    expect(claims().some((m) => m.reason === 'expired')).toBe(true);
    await expectExactlyOnceInKafka(queue, topic, producer.expected);

    // Every stream has exactly one live owner, read from the lock keys in the cluster layout.
    const owners = await Promise.all(names.map((n) => redis.get(lockKey(service, n, true))));
    const alive = (c: FleetChild) => !c.exited;
    const ids = new Set(f.children.filter(alive).map((c) => c.id));
    expect(owners.map((o) => (o ? ids.has(o.slice(o.indexOf('|') + 1)) : false))).toEqual(
      names.map(() => true),
    );
  }, 180_000);

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

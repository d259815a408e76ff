// The order's replica barrier (ORDER_WAIT_REPLICAS) on real servers: on a Redis Cluster whose
// masters have a replica, a write is on the replica when the barrier opens; on a Redis without
// replicas the WAIT comes back short, the callers go on in order, and the next ones within the
// back-off do not wait again.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedis } from '../../src/redis.js';
import { ReplicaBarrier } from '../../src/order/replica-barrier.js';
import { PrivateRedisCluster, freeRedisClusterPorts } from '../chaos/private-redis-cluster.js';
import { REDIS_URL } from '../helpers/pipeline-kit.js';

describe('order replica barrier', () => {
  const key = `{test-barrier-${randomBytes(4).toString('hex')}}:seq`;

  describe('on a Redis Cluster with a replica per master', () => {
    let cluster: PrivateRedisCluster;
    let redis: Redis;

    beforeAll(async () => {
      cluster = new PrivateRedisCluster(await freeRedisClusterPorts(), () => undefined);
      await cluster.start();
      redis = createRedis(cluster.url, { name: 'test-barrier' });
    }, 60_000);

    afterAll(async () => {
      redis?.disconnect();
      await cluster?.destroy();
    });

    it("waits for the replica of the writes' slot: short while it is stopped, open once it has them", async () => {
      // Three slots: a WAIT sent to a master other than the slot's would count that master's
      // replica and pass, so each round would catch a barrier that sends it anywhere.
      for (const slotKey of [1, 2, 3].map((i) => `${key.replace('}', `-${i}}`)}`)) {
        const master = await cluster.masterOf(slotKey);
        const replicaPort = await replicaOf(cluster, master);
        const replica = new Redis({ host: '127.0.0.1', port: replicaPort, lazyConnect: true });
        replica.on('error', () => undefined);
        await replica.connect();
        const info = String(await replica.info('server'));
        const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
        const shorts: unknown[] = [];
        const barrier = (timeoutMs: number) =>
          new ReplicaBarrier({
            redis,
            slotKey,
            replicas: 1,
            timeoutMs,
            onShort: (acked, err) => shorts.push(err ?? acked),
          });
        try {
          // The replica cannot acknowledge anything: the WAIT comes back short.
          process.kill(pid, 'SIGSTOP');
          await redis.hincrby(slotKey, 'n', 1);
          await barrier(200).passed();
          expect(shorts, slotKey).toEqual([0]);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await replica.call('READONLY');
        const open = barrier(5000);
        for (let i = 2; i <= 4; i++) {
          await redis.hincrby(slotKey, 'n', 1);
          await open.passed();
          expect(Number(await replica.hget(slotKey, 'n'))).toBe(i);
        }
        expect(shorts).toEqual([0]);
        replica.disconnect();
      }
    });
  });

  describe('on a Redis without replicas', () => {
    let redis: Redis;

    beforeAll(() => {
      redis = new Redis(REDIS_URL);
    });

    afterAll(async () => {
      await redis.del(key);
      await redis.quit();
    });

    it('comes back short, releases its callers in the order they asked, and backs off', async () => {
      const shorts: Array<number | undefined> = [];
      const barrier = new ReplicaBarrier({
        redis,
        slotKey: key,
        replicas: 1,
        timeoutMs: 50,
        backOffMs: 60_000,
        onShort: (acked) => shorts.push(acked),
      });
      await redis.hincrby(key, 'n', 1);
      const released: number[] = [];
      const first = [1, 2, 3].map((i) => barrier.passed().then(() => released.push(i)));
      // Asked while the first WAIT is on its way: a second WAIT, released after the first three.
      const fourth = new Promise((r) => setImmediate(r)).then(() =>
        barrier.passed().then(() => released.push(4)),
      );
      await Promise.all([...first, fourth]);
      expect(released).toEqual([1, 2, 3, 4]);
      expect(shorts).toEqual([0, 0]);
      // Within the back-off no WAIT is sent (it would come back short and be counted).
      await barrier.passed();
      await barrier.passed();
      expect(shorts).toEqual([0, 0]);
    });
  });
});

/** Port of the replica of the master on `masterPort`. */
async function replicaOf(cluster: PrivateRedisCluster, masterPort: number): Promise<number> {
  for (const port of cluster.ports) {
    if (port === masterPort) continue;
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    r.on('error', () => undefined);
    try {
      await r.connect();
      const role = (await r.call('ROLE')) as [string, string, number];
      if (role[0] === 'slave' && Number(role[2]) === masterPort) return port;
    } finally {
      r.disconnect();
    }
  }
  throw new Error(`no replica of ${masterPort}`);
}

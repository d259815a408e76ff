// The notifier's write-back after a Pub/Sub Redis outage keeps this process's order: the
// notifications that failed are written before a later one that is sent when Redis is back, even
// when that one is requested before the connection is ready again. A private throwaway Redis is
// killed (kill -9, no persistence) and started again on the same port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createNotifierRedis, RedisNotifier } from '../../src/publisher/redis-notifier.js';
import { EdgeHistory } from '../../src/realtime/history.js';
import { ThrowawayRedis, freePort } from '../chaos/redis-server.js';
import { waitFor } from '../helpers/pipeline-kit.js';

describe('notifier: write-back order after a Pub/Sub outage', () => {
  let server: ThrowawayRedis;

  beforeAll(async () => {
    server = new ThrowawayRedis(await freePort());
    await server.start();
  });

  afterAll(async () => {
    await server?.kill();
  });

  it('writes the failed seqs of a source before a later one', async () => {
    const history = new EdgeHistory('t:events:edge');
    const connection = createNotifierRedis(server.url);
    const notifier = new RedisNotifier({
      redis: connection,
      history,
      timeoutMs: 200,
      ownsConnection: true,
    });
    const reader = new Redis(server.url, { lazyConnect: true });
    reader.on('error', () => undefined);
    const event = (seq: number) => ({
      id: `ev-${seq}`,
      type: 'push',
      sourceType: 'o',
      sourceId: 'a',
      occurredAt: new Date().toISOString(),
      payload: {},
    });
    const note = (seq: number) =>
      notifier.notify(event(seq), { topic: 't', partition: 0, offset: String(seq), seq });
    try {
      // Sent while the connection is still being made: it waits for it rather than failing.
      expect(await note(1)).toBe(true);
      await server.kill();
      expect(await note(2)).toBe(false);
      expect(await note(3)).toBe(false);
      await server.start();
      // Requested at once: the notifier's connection is still reconnecting.
      const fourth = note(4);
      await reader.connect();
      const seqsInStream = async () =>
        ((await reader.xrange(history.keys.type('o'), '-', '+')) as Array<[string, string[]]>).map(
          ([, f]) => (JSON.parse(f[1]!) as { seq: number }).seq,
        );
      await waitFor(async () => (await seqsInStream()).length === 3, 20_000, 'seqs 2, 3, 4');
      // The server restarted empty: seq 1 went with it; 2 and 3 are written back before 4.
      expect(await seqsInStream()).toEqual([2, 3, 4]);
      await fourth;
    } finally {
      reader.disconnect();
      await notifier.close();
    }
  });
});

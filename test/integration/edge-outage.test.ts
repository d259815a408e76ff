// The real-time edge across a Pub/Sub Redis outage: a private throwaway Redis is the Pub/Sub
// Redis of the worker and the edge; it is killed (kill -9, no persistence) and started again
// while events are published. Subscribers (the typed client and a plain SSE reader) end with
// every event of their sources in seq order — from the notifier's write-back, a resume or a gap
// fill — or with an explicit reset covering what is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribe, type ClientReset } from '../../src/realtime/index.js';
import { ThrowawayRedis, freePort } from '../chaos/redis-server.js';
import { AUTH, startEdgeStack, type EdgeStack } from '../helpers/edge-kit.js';
import { readTopic, waitFor } from '../helpers/pipeline-kit.js';

describe('real-time edge across a Pub/Sub Redis outage', () => {
  let pubsub: ThrowawayRedis;
  let stack: EdgeStack;

  beforeAll(async () => {
    pubsub = new ThrowawayRedis(await freePort());
    await pubsub.start();
    stack = await startEdgeStack({ PUBSUB_REDIS_URL: pubsub.url });
  });

  afterAll(async () => {
    await stack?.close();
    await pubsub?.kill();
  });

  it('every event of many one-event sources arrives once, in order, or is announced by a reset', async () => {
    const got = new Map<string, number[]>();
    const resets: ClientReset[] = [];
    const sub = subscribe({
      url: stack.url,
      channels: ['out:*'],
      headers: { authorization: AUTH },
      backoff: { initialMs: 100, maxMs: 1000 },
      onMessage: (n) => {
        const k = `${n.source_type}:${n.source_id}`;
        got.set(k, [...(got.get(k) ?? []), n.seq!]);
      },
      onReset: (r) => resets.push(r),
    });
    try {
      await waitFor(() => sub.token !== undefined, 10_000, 'subscribed');
      let i = 0;
      const publishSome = async (n: number) => {
        for (let k = 0; k < n; k++) await stack.publish(`out:s${i++}`, 1, 0);
      };
      await publishSome(20);
      await pubsub.kill();
      await publishSome(20);
      await new Promise((r) => setTimeout(r, 1500));
      await pubsub.start();
      await publishSome(20);
      await waitFor(
        async () => (await stack.queue.getJobCountByTypes('completed')) === 60,
        30_000,
        '60 completed',
      );
      const sources = [...new Set((await readTopic(stack.config.kafka.topic)).map((r) => r.key))];
      expect(sources).toHaveLength(60);
      await waitFor(
        () =>
          sources.every(
            (s) => (got.get(s)?.length ?? 0) === 1 || resets.some((r) => r.source === s),
          ),
        30_000,
        `every source delivered or reset (missing: ${sources.filter((s) => !got.has(s)).join(' ')})`,
      );
      for (const s of sources) expect(got.get(s) ?? [], s).toEqual(got.has(s) ? [1] : []);
    } finally {
      sub.close();
      await sub.done;
    }
  });
});

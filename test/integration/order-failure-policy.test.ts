// What a job that fails for good does to its source. Default (`continue`): it never gets a seq and
// the source goes on after it. `ORDER_ON_FAILURE=block`: the later events of its source wait (other
// sources keep flowing), the hold is visible (held-sources gauge, a line in the waiting job's log,
// `dualstream doctor`), and retrying the fixed job releases the source in order.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { orderKeys } from '../../src/order/index.js';
import { createPublishWorker, type PublishWorker } from '../../src/queue/index.js';
import {
  REDIS_URL,
  createTopic,
  readTopic,
  teardownPipeline,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';

/** Per source, the event ids in offset order with their source-seq. */
async function bySource(topic: string): Promise<Record<string, Array<[string, string]>>> {
  const out: Record<string, Array<[string, string]>> = {};
  for (const r of await readTopic(topic)) {
    (out[r.key] ??= []).push([r.headers['event-id']!, r.headers['source-seq']!]);
  }
  return out;
}

describe('per-source order when a job fails for good', () => {
  let config: DualstreamConfig;
  let worker: PublishWorker | undefined;
  let queue: Queue | undefined;

  afterEach(async () => {
    await queue?.close();
    await teardownPipeline(config, worker);
  });

  async function start(env: Record<string, string>): Promise<string> {
    config = testConfig({ WORKER_CONCURRENCY: '16', ...env });
    await createTopic(config.kafka.topic, 2);
    queue = new Queue(config.queue.name, { connection: { url: REDIS_URL } });
    return uniq('f');
  }

  const ev = (id: string, source: string, n: number) => ({
    id,
    type: 'order.policy',
    sourceType: 'repo',
    sourceId: source,
    payload: { n },
  });
  // Valid source, so it takes its place in line; no `type`, so validation fails it for good.
  const bad = (id: string, source: string) => ({ id, sourceType: 'repo', sourceId: source });

  it('continue (default): the failed event gets no seq and its source goes on', async () => {
    const run = await start({});
    worker = createPublishWorker(config);
    await queue!.addBulk(
      [ev(`${run}-1`, 'a', 1), bad(`${run}-2`, 'a'), ev(`${run}-3`, 'a', 3)].map((data) => ({
        name: 'event',
        data,
        opts: { jobId: data.id },
      })),
    );
    await waitFor(async () => (await queue!.getCompletedCount()) === 2, 20_000, '2 completed');
    expect(await queue!.getFailedCount()).toBe(1);
    expect((await bySource(config.kafka.topic))['repo:a']).toEqual([
      [`${run}-1`, '1'],
      [`${run}-3`, '2'],
    ]);
  });

  it('block: the source is held and visible until the failed job is fixed and retried', async () => {
    const run = await start({ ORDER_ON_FAILURE: 'block' });
    const metrics = new DualstreamMetrics();
    worker = createPublishWorker(config, { metrics });
    const jobs = [
      ev(`${run}-1`, 'a', 1),
      bad(`${run}-2`, 'a'),
      ev(`${run}-3`, 'a', 3),
      ev(`${run}-4`, 'a', 4),
      ev(`${run}-5`, 'b', 1),
      ev(`${run}-6`, 'b', 2),
    ];
    await queue!.addBulk(jobs.map((data) => ({ name: 'event', data, opts: { jobId: data.id } })));

    // The other source flows; the held one stops after its failed job.
    await waitFor(async () => (await queue!.getCompletedCount()) === 3, 20_000, '3 completed');
    expect(await queue!.getFailedCount()).toBe(1);
    const redis = new Redis(REDIS_URL);
    try {
      const keys = orderKeys(config.redis.prefix, config.queue.name);
      await waitFor(async () => (await redis.hget(keys.held, 'repo:a')) === `${run}-2`);
      const held = await queue!.getJob(`${run}-3`);
      await waitFor(
        async () => (await queue!.getJobLogs(`${run}-3`)).logs.some((l) => l.includes(`${run}-2`)),
        20_000,
        'the held job to say which job holds it',
      );
      expect((await queue!.getJobLogs(`${run}-3`)).logs[0]).toContain(
        `held: source repo:a waits for job ${run}-2`,
      );
      expect(['delayed', 'waiting', 'active']).toContain(await held!.getState());
      await waitFor(
        async () =>
          (await metrics.registry.getSingleMetricAsString('dualstream_sources_held')).includes(
            `dualstream_sources_held{queue="${config.queue.name}"} 1`,
          ),
        20_000,
        'the held-sources gauge',
      );
      const doctor = await runDoctor(config);
      const line = doctor.find((l) => l.name === 'held sources');
      expect(line?.status).toBe('WARN');
      expect(line?.detail).toContain(`repo:a (by job ${run}-2)`);

      // The operator fixes the event and retries it: the source goes on, in order.
      const failed = await queue!.getJob(`${run}-2`);
      await failed!.updateData(ev(`${run}-2`, 'a', 2));
      await failed!.retry();
      await waitFor(async () => (await queue!.getCompletedCount()) === 6, 30_000, '6 completed');
      expect(await redis.hlen(keys.held)).toBe(0);
    } finally {
      redis.disconnect();
    }
    const records = await bySource(config.kafka.topic);
    expect(records['repo:a']).toEqual([1, 2, 3, 4].map((n) => [`${run}-${n}`, String(n)]));
    expect(records['repo:b']).toEqual([
      [`${run}-5`, '1'],
      [`${run}-6`, '2'],
    ]);
  });
});

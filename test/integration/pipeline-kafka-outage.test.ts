// Kafka outage: the network between the worker and the (shared, real) broker is cut with a
// socket factory that destroys every connection and refuses new ones, which the client sees as a
// broker that went away. Stopping the shared broker would break other test runs; the client-side
// cut exercises the same code paths (connection errors, exhausted retries, reconnect).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import {
  createTopic,
  cuttableNetwork,
  readTopic,
  testConfig,
  waitFor,
  teardownPipeline,
} from '../helpers/pipeline-kit.js';

describe('publish pipeline: Kafka outage', () => {
  const config = testConfig({
    JOB_ATTEMPTS: '2',
    BACKOFF_DELAY_MS: '100',
    KAFKA_FAILURE_THRESHOLD: '2',
    KAFKA_COOLDOWN_MS: '1000',
    WORKER_CONCURRENCY: '16',
  });
  const queue = createPublishQueue(config);
  const metrics = new DualstreamMetrics();
  let publisher: ReturnType<typeof createDualPublisher>;
  let worker: ReturnType<typeof createPublishWorker>;
  let net: Awaited<ReturnType<typeof cuttableNetwork>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 2);
    net = await cuttableNetwork();
    publisher = createDualPublisher(config, {
      metrics,
      producerOptions: {
        socketFactory: net.socketFactory,
        // One job's Kafka budget: ~1 s of client retries, times 2 attempts.
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 400 },
        connectionTimeout: 500,
        requestTimeout: 3000,
      },
    });
    worker = createPublishWorker(config, { publisher, metrics, drainDelay: 1 });
  });

  afterAll(() => teardownPipeline(config, worker, publisher, queue));

  const batch = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: `${prefix}-${i}`,
      type: 'push',
      sourceType: 'repo',
      sourceId: `o/${i % 5}`,
      payload: { i },
    }));

  it('cools down instead of failing jobs, resumes by itself, and writes every event once', async () => {
    const before = batch('before', 20);
    await enqueueEvents(queue, before);
    await waitFor(async () => (await queue.getJobCountByTypes('completed')) === 20, 20_000);

    net.cut();
    const during = batch('during', 60);
    await enqueueEvents(queue, during.slice(0, 30));
    // Longer than one job's whole retry budget (2 attempts of ~1 s each plus backoff).
    const outageEnd = Date.now() + 8000;
    let maxFailed = 0;
    let enqueuedRest = false;
    while (Date.now() < outageEnd) {
      maxFailed = Math.max(maxFailed, await queue.getJobCountByTypes('failed'));
      if (!enqueuedRest && Date.now() > outageEnd - 5000) {
        await enqueueEvents(queue, during.slice(30));
        // Enqueued twice: still one job, one record.
        await enqueueEvents(queue, during.slice(30, 40));
        enqueuedRest = true;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await queue.getJobCountByTypes('completed')).toBe(20);
    expect(maxFailed).toBe(0);
    expect((await metrics.kafkaCooldowns.get()).values[0]?.value ?? 0).toBeGreaterThanOrEqual(1);

    net.restore();
    await waitFor(
      async () => (await queue.getJobCountByTypes('completed')) === 80,
      30_000,
      'all jobs completed after the outage',
    );
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    for (const e of during) {
      const job = await queue.getJob(e.id);
      expect(job!.attemptsMade).toBeLessThanOrEqual(2);
    }

    const counts = new Map<string, number>();
    for (const r of await readTopic(config.kafka.topic)) {
      const id = r.headers['event-id']!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.size).toBe(80);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(worker.breaker.current).toBe('closed');
  });
});

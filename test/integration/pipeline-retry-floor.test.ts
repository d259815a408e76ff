// Jobs from plain BullMQ producers get BullMQ's default of one attempt. The worker's retry floor
// (JOB_ATTEMPTS) must still carry them through a short Kafka cut that is too short to trip the
// cool-down, instead of failing them at the first error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import { createPublishQueue, createPublishWorker } from '../../src/queue/index.js';
import {
  createTopic,
  cuttableNetwork,
  readTopic,
  testConfig,
  waitFor,
  teardownPipeline,
} from '../helpers/pipeline-kit.js';
import { plainEnqueue } from '../helpers/plain-bullmq-producer.js';

describe('publish pipeline: worker retry floor for plain jobs', () => {
  const config = testConfig({
    JOB_ATTEMPTS: '30',
    BACKOFF_DELAY_MS: '100',
    // Never trip the cool-down here: this test is about per-job retries.
    KAFKA_FAILURE_THRESHOLD: '1000',
    WORKER_CONCURRENCY: '8',
  });
  const queue = createPublishQueue(config);
  let publisher: ReturnType<typeof createDualPublisher>;
  let worker: ReturnType<typeof createPublishWorker>;
  let net: Awaited<ReturnType<typeof cuttableNetwork>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 1);
    net = await cuttableNetwork();
    publisher = createDualPublisher(config, {
      metrics: new DualstreamMetrics(),
      producerOptions: {
        socketFactory: net.socketFactory,
        retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
        connectionTimeout: 300,
        requestTimeout: 2000,
      },
    });
    worker = createPublishWorker(config, { publisher, drainDelay: 1 });
  });

  afterAll(() => teardownPipeline(config, worker, publisher, queue));

  it('retries a one-attempt job until Kafka is back, and writes it once', async () => {
    net.cut();
    const ids = Array.from({ length: 10 }, (_, i) => `floor-${i}`);
    const jobIds = await plainEnqueue(
      config.queue.name,
      // One source per job: with per-source order, later jobs of one source would wait behind the
      // first instead of each trying Kafka (order-* tests cover that head-of-line case).
      ids.map((id, i) => ({ data: { id, type: 'push', sourceType: 'repo', sourceId: `o/r${i}` } })),
    );
    // Wait until every job has failed at least once against the cut network.
    await waitFor(
      async () => {
        const jobs = await Promise.all(jobIds.map((id) => queue.getJob(id)));
        return jobs.every((j) => (j?.data.kafkaFailures ?? 0) >= 1);
      },
      20_000,
      'every job to fail once',
    );
    const one = await queue.getJob(jobIds[0]!);
    // No attempts option: BullMQ stores 0 and treats it as a single attempt.
    expect(one?.opts.attempts || 1).toBe(1);
    expect(await queue.getJobCountByTypes('failed')).toBe(0);

    net.restore();
    await waitFor(
      async () => (await queue.getJobCountByTypes('completed')) === ids.length,
      30_000,
      'all jobs completed after the cut',
    );
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    const records = await readTopic(config.kafka.topic);
    expect(records.map((r) => r.headers['event-id']).sort()).toEqual([...ids].sort());
  });
});

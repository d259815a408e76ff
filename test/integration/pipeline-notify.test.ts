import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualstreamMetrics } from '../../src/metrics.js';
import {
  createPublishQueue,
  createPublishWorker,
  enqueueEvent,
  enqueueEvents,
} from '../../src/queue/index.js';
import { plainEnqueue } from '../helpers/plain-bullmq-producer.js';
import {
  closedPort,
  collectPubSub,
  createTopic,
  readTopic,
  testConfig,
  waitFor,
  teardownPipeline,
} from '../helpers/pipeline-kit.js';

describe('publish pipeline: Pub/Sub Redis unreachable', () => {
  let config: ReturnType<typeof testConfig>;
  let queue: ReturnType<typeof createPublishQueue>;
  let worker: ReturnType<typeof createPublishWorker>;
  const metrics = new DualstreamMetrics();

  beforeAll(async () => {
    config = testConfig({ PUBSUB_REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    queue = createPublishQueue(config);
    await createTopic(config.kafka.topic, 2);
    worker = createPublishWorker(config, { metrics, drainDelay: 1 });
  });

  afterAll(() => teardownPipeline(config, worker, queue));

  it('completes every job with notified:false, writes every event to Kafka, counts the failures', async () => {
    const events = Array.from({ length: 25 }, (_, i) => ({
      id: `nopubsub-${i}`,
      type: 'push',
      sourceType: 'repo',
      sourceId: `s/${i % 3}`,
      payload: { i },
    }));
    await enqueueEvents(queue, events);
    await waitFor(
      async () => (await queue.getJobCountByTypes('completed')) === events.length,
      30_000,
      'all jobs completed',
    );
    for (const e of events) {
      const job = await queue.getJob(e.id);
      expect(job!.returnvalue).toMatchObject({ id: e.id, notified: false });
      expect(job!.attemptsMade).toBe(1);
    }
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    const ids = (await readTopic(config.kafka.topic)).map((r) => r.headers['event-id']).sort();
    expect(ids).toEqual(events.map((e) => e.id).sort());
    const failures = await metrics.notifyFailures.get();
    expect(failures.values[0]?.value).toBe(events.length);
    expect(await worker.ping()).toEqual({ kafka: true, pubsub: false });
  });
});

describe('publish pipeline: resumable steps', () => {
  const config = testConfig({ BACKOFF_DELAY_MS: '20', JOB_ATTEMPTS: '3' });
  const queue = createPublishQueue(config);
  let failNotifyOnce = new Set<string>();
  const redisFailsOnce = new Set<string>();
  let worker: ReturnType<typeof createPublishWorker>;
  let pubsub: Awaited<ReturnType<typeof collectPubSub>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 1);
    pubsub = await collectPubSub(`${config.events.channelPrefix}:*`);
    worker = createPublishWorker(config, {
      drainDelay: 1,
      hooks: {
        // Fail the attempt after the receipt is recorded, i.e. at the notify step.
        afterReceipt: (job) => {
          if (failNotifyOnce.delete(String(job.id)))
            throw new Error('injected failure after receipt');
          // What ioredis throws for a command caught by a lost connection or a cluster failover.
          if (redisFailsOnce.delete(String(job.id)))
            throw new Error(
              'Too many Cluster redirections. Last error: Error: Connection is closed.',
            );
        },
      },
    });
  });

  afterAll(() => teardownPipeline(config, worker, pubsub, queue));

  it('a retry after a failure past the Kafka step does not write to Kafka again', async () => {
    failNotifyOnce = new Set(['retry-once-1']);
    await enqueueEvent(queue, {
      id: 'retry-once-1',
      type: 't',
      sourceType: 'repo',
      sourceId: 'r/1',
    });
    await waitFor(async () => (await queue.getJobState('retry-once-1')) === 'completed', 20_000);
    const job = await queue.getJob('retry-once-1');
    expect(job!.attemptsMade).toBe(2);
    expect(job!.data.receipt).toBeDefined();
    const records = await readTopic(config.kafka.topic);
    expect(records.filter((r) => r.headers['event-id'] === 'retry-once-1')).toHaveLength(1);
    expect(job!.returnvalue).toMatchObject({
      partition: records[0]!.partition,
      offset: records[0]!.offset,
      notified: true,
    });
  });

  it('a Redis failure mid-job does not fail a job added with one attempt: it runs again later', async () => {
    // A plain queue.add without options: BullMQ's default of one attempt.
    const [id] = await plainEnqueue(config.queue.name, [
      { data: { id: 'redis-blip-1', type: 't', sourceType: 'repo', sourceId: 'r/3' } },
    ]);
    redisFailsOnce.add(id!);
    await waitFor(async () => (await queue.getJobState(id!)) === 'completed', 20_000);
    expect(redisFailsOnce.has(id!)).toBe(false);
    const job = await queue.getJob(id!);
    expect(job!.opts.attempts ?? 0).toBeLessThanOrEqual(1);
    expect(job!.returnvalue).toMatchObject({ id: 'redis-blip-1', notified: true });
    // The receipt was recorded before the failure: the second run did not write to Kafka again.
    const records = await readTopic(config.kafka.topic);
    expect(records.filter((r) => r.headers['event-id'] === 'redis-blip-1')).toHaveLength(1);
  });

  it('a job whose data already holds a receipt skips Kafka and notifies with that receipt', async () => {
    const receipt = { topic: config.kafka.topic, partition: 0, offset: '4242' };
    const [id] = await plainEnqueue(config.queue.name, [
      {
        data: { id: 'has-receipt-1', type: 't', sourceType: 'repo', sourceId: 'r/2', receipt },
      },
    ]);
    await waitFor(async () => (await queue.getJobState(id!)) === 'completed', 20_000);
    const job = await queue.getJob(id!);
    expect(job!.returnvalue).toEqual({ id: 'has-receipt-1', ...receipt, notified: true });
    const records = await readTopic(config.kafka.topic);
    expect(records.some((r) => r.headers['event-id'] === 'has-receipt-1')).toBe(false);
    await waitFor(() => pubsub.messages.some((m) => m.message.includes('has-receipt-1')), 5000);
    const note = pubsub.messages.find((m) => m.message.includes('has-receipt-1'))!;
    expect(JSON.parse(note.message)).toMatchObject({ id: 'has-receipt-1', offset: '4242' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createPublishQueue, createPublishWorker } from '../../src/queue/index.js';
import { plainEnqueue } from '../helpers/plain-bullmq-producer.js';
import {
  createTopic,
  readTopic,
  testConfig,
  waitFor,
  teardownPipeline,
} from '../helpers/pipeline-kit.js';

describe('publish pipeline: invalid jobs', () => {
  const config = testConfig({ MAX_PAYLOAD_BYTES: '1024', JOB_ATTEMPTS: '5' });
  const queue = createPublishQueue(config);
  const metrics = new DualstreamMetrics();
  let worker: ReturnType<typeof createPublishWorker>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 1);
    worker = createPublishWorker(config, { metrics, drainDelay: 1 });
  });

  afterAll(() => teardownPipeline(config, worker, queue));

  const base = { type: 'push', sourceType: 'repo', sourceId: 'ok/one' };
  const cases: Array<{ name: string; data: unknown; reason: RegExp }> = [
    { name: 'wrong type', data: { ...base, type: 42 }, reason: /type must be a string/ },
    { name: 'glob in sourceId', data: { ...base, sourceId: 'a*b' }, reason: /sourceId: .*glob/ },
    { name: 'colon in sourceId', data: { ...base, sourceId: 'a:b' }, reason: /sourceId: .*":"/ },
    {
      name: 'oversized payload',
      data: { ...base, payload: { blob: 'x'.repeat(2000) } },
      reason: /payload: payload is \d+ bytes; the limit is 1024 bytes/,
    },
    { name: 'not an object', data: 'just a string', reason: /event must be a JSON object/ },
    { name: 'array', data: [1, 2, 3], reason: /event must be a JSON object/ },
  ];

  it('fails each invalid job at once with a readable reason, writes nothing, and keeps working', async () => {
    const ids = await plainEnqueue(
      config.queue.name,
      cases.map((c) => ({ name: c.name, data: c.data })),
    );
    await waitFor(
      async () => (await queue.getJobCountByTypes('failed')) === cases.length,
      20_000,
      'invalid jobs failed',
    );
    for (const [i, c] of cases.entries()) {
      const job = await queue.getJob(ids[i]!);
      expect(await job!.getState(), c.name).toBe('failed');
      expect(job!.attemptsMade, c.name).toBe(1);
      expect(job!.failedReason, c.name).toMatch(/^Invalid event: /);
      expect(job!.failedReason, c.name).toMatch(c.reason);
    }
    // BullMQ keeps UnrecoverableError's name in the stack trace it stores; the board shows that
    // trace under the reason, so it is the reason alone, not frames of BullMQ's internals.
    const first = await queue.getJob(ids[0]!);
    expect(first!.stacktrace).toEqual([`UnrecoverableError: ${first!.failedReason}`]);

    // The worker is still alive and publishes a valid event.
    const [validId] = await plainEnqueue(config.queue.name, [
      { data: { ...base, id: 'valid-after-invalid' } },
    ]);
    await waitFor(async () => (await queue.getJobState(validId!)) === 'completed', 20_000);
    const records = await readTopic(config.kafka.topic);
    expect(records.map((r) => r.headers['event-id'])).toEqual(['valid-after-invalid']);
    expect(
      await metrics.registry.getSingleMetricAsString('dualstream_publish_failures_total'),
    ).toContain(`dualstream_publish_failures_total{stage="validate"} ${cases.length}`);
  });
});

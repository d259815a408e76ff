// How the processor holds jobs while Kafka is thought down (pure logic: the job is a stub that
// records what the processor asks of it; Kafka and Redis are not involved).
import { DelayedError, Worker, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { KafkaPublishError } from '../../src/errors.js';
import type { KafkaReceipt } from '../../src/events/index.js';
import { KafkaBreaker } from '../../src/queue/kafka-breaker.js';
import { createPublishProcessor } from '../../src/queue/publish-processor.js';
import type { PublishJobData } from '../../src/queue/publish-queue.js';

function stubJob(id: string) {
  const delayedUntil: number[] = [];
  const job = {
    id,
    name: 'publish',
    queueName: 'q',
    timestamp: 1,
    attemptsMade: 0,
    opts: { attempts: 1 },
    data: { id: `ev-${id}`, type: 'push', sourceType: 'repo', sourceId: 'a', payload: {} },
    moveToDelayed: (ts: number) => {
      delayedUntil.push(ts);
      return Promise.resolve();
    },
    updateData: () => Promise.resolve(),
  };
  return { job: job as unknown as Job<PublishJobData>, delayedUntil };
}

describe('publish processor: holding jobs while Kafka is down', () => {
  it('pauses the fleet (rate limit) while the breaker is open, and sets jobs aside briefly while a probe is in flight', async () => {
    let now = 0;
    const breaker = new KafkaBreaker({ failureThreshold: 1, cooldownMs: 5000, now: () => now });
    const rateLimits: number[] = [];
    let finishProbe: (r: KafkaReceipt) => void = () => undefined;
    let sends = 0;
    const process = createPublishProcessor({
      breaker,
      rateLimit: (ms) => {
        rateLimits.push(ms);
        return Promise.resolve();
      },
      maxPayloadBytes: 1_000_000,
      publisher: {
        publishToKafka: () => {
          sends++;
          if (sends === 1)
            return Promise.reject(new KafkaPublishError('down', { retriable: true }));
          return new Promise<KafkaReceipt>((resolve) => (finishProbe = resolve));
        },
        notify: () => Promise.resolve(true),
        kafkaHealth: () => ({ consecutiveFailures: 1 }),
      },
    });

    // A failure opens the breaker: the job goes back to wait and the worker stops fetching.
    const first = stubJob('1');
    await expect(process(first.job, 'tok')).rejects.toBeInstanceOf(
      Worker.RateLimitError().constructor,
    );
    expect(breaker.current).toBe('open');
    expect(rateLimits).toEqual([5000]);

    // Still open: the next job is held the same way, for what is left of the cool-down.
    now = 2000;
    await expect(process(stubJob('2').job, 'tok')).rejects.toThrow();
    expect(rateLimits).toEqual([5000, 3000]);

    // The cool-down is over: one job probes; while it is in flight, another is set aside for a
    // moment (delayed) without pausing the worker, so that a new probe can come at once.
    now = 6000;
    const probe = process(stubJob('3').job, 'tok');
    expect(breaker.current).toBe('probing');
    const other = stubJob('4');
    const held = await process(other.job, 'tok').catch((e: unknown) => e);
    expect(held).toBeInstanceOf(DelayedError);
    expect(other.delayedUntil.length).toBe(1);
    expect(other.delayedUntil[0]! - Date.now()).toBeLessThanOrEqual(1000);
    expect(rateLimits).toEqual([5000, 3000]);

    finishProbe({ topic: 't', partition: 0, offset: '7' });
    await expect(probe).resolves.toMatchObject({ offset: '7' });
    expect(breaker.current).toBe('closed');
  });
});

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReceiptWriter } from '../../src/queue/receipt-writer.js';
import { REDIS_URL, uniq } from '../helpers/pipeline-kit.js';

describe('ReceiptWriter (real Redis)', () => {
  const queueName = uniq('receipts');
  let queue: Queue;
  let redis: Redis;
  let writer: ReceiptWriter;

  beforeAll(() => {
    queue = new Queue(queueName, { connection: { url: REDIS_URL } });
    redis = new Redis(REDIS_URL);
    writer = new ReceiptWriter(redis, 'bull', queueName);
  });

  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await redis.quit();
  });

  it('records the receipts of one turn in one script call; a removed job fails alone, with no stray hash', async () => {
    const jobs = await queue.addBulk(
      Array.from({ length: 5 }, (_, i) => ({ name: 'event', data: { n: i } as object })),
    );
    await jobs[2]!.remove();
    const sent = vi.spyOn(redis, 'sendCommand');
    const results = await Promise.allSettled(
      jobs.map((job, i) => writer.write(job, { n: i, receipt: { offset: String(i) } })),
    );
    const commands = sent.mock.calls.map(([c]) => c.name);
    sent.mockRestore();

    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((results[2] as PromiseRejectedResult).reason)).toContain(
      `Missing key for job ${jobs[2]!.id}`,
    );
    // One script call for the five (EVAL on a connection's first use of it, EVALSHA after).
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatch(/^eval(sha)?$/);
    for (const i of [0, 1, 3, 4]) {
      const stored = await queue.getJob(jobs[i]!.id!);
      expect(stored!.data).toEqual({ n: i, receipt: { offset: String(i) } });
      expect(jobs[i]!.data).toEqual({ n: i, receipt: { offset: String(i) } });
    }
    expect(await redis.exists(`bull:${queueName}:${jobs[2]!.id}`)).toBe(0);
    expect(jobs[2]!.data).toEqual({ n: 2 });
  });
});

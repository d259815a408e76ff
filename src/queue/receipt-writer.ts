import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { TickBatcher } from '../async.js';
import { DualstreamError } from '../errors.js';
import { ScriptSet } from '../redis-scripts.js';

const scripts = new ScriptSet(
  new URL('./scripts/', import.meta.url),
  { receipts: 'receipts-1.lua' },
  'dsQueue',
);

/** Jobs per script call (a larger batch is split). */
const BATCH_AT_MOST = 256;

/**
 * Records publish receipts on their jobs (`job.data`, as `job.updateData` would), batched: the
 * jobs of one turn of the event loop share one script call, one write to the socket and one
 * reply, instead of a script call each.
 */
export class ReceiptWriter {
  private readonly batch: TickBatcher<{ jobId: string; json: string }, void>;

  /**
   * @param redis - a non-blocking connection to the queue Redis
   * @param prefix - BullMQ key prefix
   * @param queueName - the publish queue
   */
  constructor(redis: Redis, prefix: string, queueName: string) {
    scripts.define(redis);
    const base = `${prefix}:${queueName}`;
    this.batch = new TickBatcher<{ jobId: string; json: string }, void>({
      maxItems: BATCH_AT_MOST,
      run: async (items) => {
        const args: string[] = [`${base}:`];
        for (const i of items) args.push(i.jobId, i.json);
        const replies = (await scripts.run(redis, 'receipts', [`${base}:meta`], args)) as number[];
        return items.map((i, n) =>
          replies[n] === 0
            ? undefined
            : new DualstreamError(`Missing key for job ${i.jobId}: its receipt was not recorded`),
        );
      },
    });
  }

  /** Replace the job's data with `data` (locally and in Redis); rejects when the job is gone. */
  async write<T>(job: Job<T>, data: T): Promise<void> {
    if (job.id === undefined) throw new DualstreamError('A job without an id has no receipt');
    await this.batch.add({ jobId: job.id, json: JSON.stringify(data) });
    job.data = data;
  }
}

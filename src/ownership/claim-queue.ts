import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { withTimeout } from '../async.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { findOrphans } from './find-orphans.js';
import { SWEEP_SCHEDULER_ID, claimJobId, ownershipQueueName } from './keys.js';

/** Why a claim job was enqueued. */
export type ClaimReason = 'expired' | 'sweep' | 'handoff' | 'manual';

/** Data of a claim job on the ownership queue. */
export interface ClaimJobData {
  stream: string;
  /** LBS entry id of the stream, when known. */
  lbsId?: string;
  /** Generation of the lock that ended (part of the job id, deduplicates claims). */
  fence: number;
  reason: ClaimReason;
}

/** Return value of a claim job, shown in Bull Board. */
export type ClaimResult =
  | { outcome: 'claimed'; stream: string; owner: string; fence: number; failoverMs?: number }
  | { outcome: 'owned'; stream: string; owner: string; note: string }
  | { outcome: 'done'; stream: string; note: string }
  | { outcome: 'gone'; stream: string; note: string };

/** Return value of a sweep job. */
export interface SweepResult {
  /** Pending LBS entries looked at. */
  scanned: number;
  /** Claims enqueued for streams whose lock is gone. */
  enqueued: number;
}

/** What runs a claim job: the client, which acquires the lock and announces the stream. */
export interface ClaimTaker {
  takeClaim(stream: string, lbsId: string, reason: ClaimReason): Promise<ClaimResult>;
}

/** What a {@link ClaimQueue} is built from. */
export interface ClaimQueueOptions {
  service: string;
  /** BullMQ key prefix. */
  prefix: string;
  /** Connection of the queue and the worker (blocking: `maxRetriesPerRequest: null`). */
  connection: Redis;
  /** Connection of the sweep's reads. */
  redis: Redis;
  /** Lock TTL: the sweep looks only at LBS entries idle for at least this long. */
  lockTtlMs: number;
  sweepIntervalMs: number;
  logger: Logger;
  metrics?: DualstreamMetrics;
  /** Errors of the queue and the worker. */
  onError: (err: Error) => void;
  /** Redis Cluster key layout and reads (see {@link findOrphans}). @defaultValue false */
  cluster?: boolean;
}

/** How long the ownership worker and queue may take to close before shutdown goes on. */
const CLOSE_GRACE_MS = 5000;

/** LBS entries looked at per sweep batch. */
const SWEEP_BATCH = 200;

/** Options of every claim job: short retries, kept long enough to deduplicate a generation. */
const CLAIM_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 200 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600 },
} as const;

/**
 * The BullMQ queue `<service>-ownership`: claim jobs (one per stream and lock generation, so a
 * claim is enqueued once however many clients see the expiry), the sweep scheduler that finds
 * orphaned streams, and, in clients that run it, the worker that takes both.
 */
export class ClaimQueue {
  private queue: Queue<ClaimJobData, ClaimResult | SweepResult> | undefined;
  private worker: Worker<ClaimJobData, ClaimResult | SweepResult> | undefined;

  constructor(private readonly opts: ClaimQueueOptions) {}

  /** Open the queue and upsert the sweep scheduler; with `worker`, take jobs through `taker`. */
  async start(worker: { taker: ClaimTaker; concurrency: number } | undefined): Promise<void> {
    const { opts } = this;
    const name = ownershipQueueName(opts.service);
    this.queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    this.queue.on('error', opts.onError);
    await this.queue.upsertJobScheduler(
      SWEEP_SCHEDULER_ID,
      { every: opts.sweepIntervalMs },
      {
        name: 'sweep',
        data: { stream: '', fence: 0, reason: 'sweep' },
        opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } },
      },
    );
    if (worker) {
      this.worker = new Worker(name, (job) => this.process(job, worker.taker), {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: worker.concurrency,
      });
      this.worker.on('error', opts.onError);
    }
  }

  /**
   * Enqueue claim jobs, deduplicated by (stream, generation). With `rerunEnded` (the sweep, which
   * has just seen the lock gone and the entry idle), a claim job of the same generation that
   * already ended runs again instead of being ignored: one that failed (e.g. Redis was down), and
   * one that completed, whose result no longer holds: it found a later lock of the stream that has
   * expired since (an expiry seen after the next generation was taken), or a Redis failover lost
   * the acquisition it made and the generation counter with it. Without a new claim the stream
   * would stay unowned.
   */
  async enqueue(claims: ClaimJobData[], rerunEnded: boolean): Promise<number> {
    const queue = this.queue;
    if (!queue || claims.length === 0) return 0;
    if (rerunEnded) {
      for (const c of claims) {
        const id = claimJobId(c.stream, c.fence);
        const state = await queue.getJobState(id);
        if (state === 'failed') await (await queue.getJob(id))?.retry();
        else if (state === 'completed') {
          this.opts.logger.warn(
            { stream: c.stream, fence: c.fence },
            'orphaned stream whose claim of this generation already completed: claiming it again',
          );
          await (await queue.getJob(id))?.remove();
        }
      }
    }
    await queue.addBulk(
      claims.map((data) => ({
        name: 'claim',
        data,
        opts: { jobId: claimJobId(data.stream, data.fence), ...CLAIM_JOB_OPTIONS },
      })),
    );
    return claims.length;
  }

  /**
   * Find LBS entries that are pending while their lock is gone and enqueue a claim for each (what
   * the sweep job runs). Streams with a live lock are never touched. See {@link findOrphans}.
   */
  async sweep(): Promise<SweepResult> {
    let cursor: string | undefined;
    let scanned = 0;
    let enqueued = 0;
    do {
      const batch = await findOrphans(this.opts.redis, this.opts.service, {
        cluster: this.opts.cluster ?? false,
        minIdleMs: this.opts.lockTtlMs,
        count: SWEEP_BATCH,
        ...(cursor === undefined ? {} : { cursor }),
      });
      scanned += batch.scanned;
      cursor = batch.cursor;
      enqueued += await this.enqueue(
        batch.orphans.map((o) => ({ ...o, reason: 'sweep' as const })),
        true,
      );
    } while (cursor !== undefined);
    if (enqueued > 0) this.opts.logger.info({ scanned, enqueued }, 'sweep found orphaned streams');
    return { scanned, enqueued };
  }

  /**
   * Stop taking jobs; active ones get {@link CLOSE_GRACE_MS} to finish. BullMQ's close can wait
   * forever on a connection that a Redis Cluster failover left wedged; a claim or sweep cut short
   * is safe (claims are idempotent per generation, and the next sweep finds what is left).
   */
  async stopWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await withTimeout(worker.close(), CLOSE_GRACE_MS, 'the ownership worker did not close').catch(
      (err: unknown) => {
        this.opts.logger.warn({ err }, 'ownership worker still closing: going on without it');
        void worker.close(true).catch(() => undefined);
      },
    );
  }

  /** Close the queue (after {@link stopWorker}), as boundedly. */
  async close(): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    await withTimeout(queue.close(), CLOSE_GRACE_MS, 'the ownership queue did not close').catch(
      (err: unknown) => this.opts.logger.warn({ err }, 'ownership queue still closing: going on'),
    );
  }

  /** The claim job / sweep job processor. */
  private async process(
    job: Job<ClaimJobData, ClaimResult | SweepResult>,
    taker: ClaimTaker,
  ): Promise<ClaimResult | SweepResult> {
    if (job.name === 'sweep') return this.sweep();
    const { stream, lbsId, reason } = job.data;
    try {
      return await taker.takeClaim(stream, lbsId ?? '', reason);
    } catch (err) {
      // Thrown on to BullMQ, which retries; the final failure stays visible in Bull Board.
      this.opts.metrics?.ownershipClaims.inc({ outcome: 'failed' });
      throw err;
    }
  }
}

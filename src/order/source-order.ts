// One class, ~380 lines, on purpose: admission, waiting and the Kafka failure listener share one
// process's state (jobs sent and not acknowledged, the failure counter, the local waiters), and
// splitting them would pass that state around. The Redis side is in order-scripts.ts.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { safeEmitError, sleep } from '../async.js';
import { DualstreamError } from '../errors.js';
import type { KafkaReceipt } from '../events/index.js';
import { RateLimitedLog, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { orderKeys, type OrderKeys } from './keys.js';
import { ReplicaBarrier } from './replica-barrier.js';
import { OrderScripts, type AdmitReply, type OrderFailurePolicy } from './order-scripts.js';

export type { OrderFailurePolicy } from './order-scripts.js';

/**
 * How long a job waits in its worker slot before it steps aside (moved to delayed, which puts it
 * at the back of the wait list when it is due).
 */
export interface OrderWaitOptions {
  /**
   * The earlier job it waits for is active in a worker that holds its BullMQ lock, so it should
   * make progress soon: wait in the slot this long. (A killed worker's lock lingers until it
   * expires, so this is not longer.) Default: 2000 ms
   */
  liveMs: number;
  /**
   * The earlier job is not active (waiting, delayed for a retry, or its worker died): step
   * aside soon, so that slots never all wait for a job that needs one. Default: 200 ms
   */
  idleMs: number;
  /**
   * First delay when stepping aside; doubles per step, up to `delayMaxMs`. A parked job comes
   * back earlier, at the front of the wait list, as soon as its source's head moves.
   * Default: 1000 ms
   */
  delayBaseMs: number;
  /** Default: 10000 ms */
  delayMaxMs: number;
  /**
   * Jobs of this process that may wait in their slots at once for a job that is not active;
   * beyond that such a job steps aside at once, so that waiting never takes every slot.
   * Default: 64 (the worker passes half its concurrency)
   */
  maxWaiting: number;
}

/** Options of {@link SourceOrder}. */
export interface SourceOrderOptions {
  /** Connection for the order scripts (fail-fast, not blocking). Not closed by the order. */
  redis: Redis;
  /** Opens the two extra connections it owns: the events-stream reader and the wake subscriber. */
  connect: (name: string) => Redis;
  /** BullMQ key prefix. */
  prefix: string;
  queueName: string;
  policy: OrderFailurePolicy;
  /** Unique per process incarnation. @defaultValue `<host>-<pid>-<random>` */
  processId?: string;
  waits?: Partial<OrderWaitOptions>;
  /**
   * Before a job admitted to Kafka is sent, wait until its admission (and its seq) is on this many
   * replicas of the queue Redis (`WAIT`, one per batch of admissions), at most `timeoutMs`. A
   * failover to a replica that missed an admission would give the next event of the source the
   * same seq. `count` 0 (the default): do not wait.
   */
  replicas?: { count: number; timeoutMs: number };
  metrics?: DualstreamMetrics;
  logger?: Logger;
}

/** Events of {@link SourceOrder}. */
export interface SourceOrderEvents {
  /** A background loop failed (it retries by itself). */
  error: [err: Error];
}

type Attempt =
  | { kind: 'sent'; receipt: Promise<KafkaReceipt> }
  | { kind: 'again' }
  | Exclude<AdmitReply, { kind: 'go' }>;

const DEFAULT_WAITS: OrderWaitOptions = {
  maxWaiting: 64,
  liveMs: 2000,
  idleMs: 200,
  delayBaseMs: 1000,
  delayMaxMs: 10_000,
};

/** How often the held-sources gauge is refreshed. */
const HELD_REFRESH_MS = 5000;

/**
 * Per-source order for one publish queue, shared by every job of a worker process.
 *
 * Enqueue order comes from BullMQ itself (the `added` entries of the queue's events stream, or
 * the FIFO wait list when the stream was trimmed). A job is *admitted* to Kafka only when every
 * earlier job of its source is written or admitted by this same process, whose one producer keeps
 * them in order; it then gets `seq` = the source's last written seq + its place in line. So any
 * number of worker processes and any concurrency write a source in enqueue order, and many events
 * of one source still share a produce request. A failed request withdraws this process's
 * admissions of its sources at once ({@link SourceOrder.onKafkaKeysFailed}), so nothing of the
 * source can overtake the failed job. A job that must wait gives its worker slot back (moved to
 * delayed, no attempt spent) unless the wait is short.
 */
export class SourceOrder extends EventEmitter<SourceOrderEvents> {
  /** This process incarnation's id in admissions. */
  readonly processId: string;
  /** The Redis keys used (see `keys.ts`). */
  readonly keys: OrderKeys;
  private readonly opts: SourceOrderOptions;
  private readonly waits: OrderWaitOptions;
  private readonly scripts: OrderScripts;
  private readonly reader: Redis;
  private readonly subscriber: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Per source: job ids this process sent to Kafka and that are not acknowledged yet, in order. */
  private readonly unacked = new Map<string, string[]>();
  /** Bumped by every failed produce request; an admission asked for before a bump is retried. */
  private failures = 0;
  private readonly stepAsides = new Map<string, number>();
  /** Jobs of this process waiting in their slots now. */
  private waiting = 0;
  private readonly heldLogged = new Set<string>();
  private readonly warn: RateLimitedLog | undefined;
  private readonly barrier: ReplicaBarrier | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(options: SourceOrderOptions) {
    super();
    this.opts = options;
    this.waits = { ...DEFAULT_WAITS, ...options.waits };
    this.processId =
      options.processId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.keys = orderKeys(options.prefix, options.queueName);
    this.scripts = new OrderScripts(options.redis, this.keys, {
      processId: this.processId,
      policy: options.policy,
    });
    this.reader = options.connect('dualstream-order-reader');
    this.subscriber = options.connect('dualstream-order-wake');
    this.warn = options.logger ? new RateLimitedLog(options.logger) : undefined;
    const replicas = options.replicas;
    if (replicas && replicas.count > 0) {
      this.barrier = new ReplicaBarrier({
        redis: options.redis,
        slotKey: this.keys.seq,
        replicas: replicas.count,
        timeoutMs: replicas.timeoutMs,
        onShort: (acked, err) => {
          options.metrics?.orderWaitShort.inc();
          this.warn?.warn(
            'order-wait-short',
            { acked, wanted: replicas.count, ...(err ? { err } : {}) },
            'admissions not on enough replicas in time: sending anyway (a failover now could repeat a seq)',
          );
        },
      });
    }
    for (const c of [this.reader, this.subscriber]) c.on('error', () => undefined);
  }

  /** Start the events-stream reader, the wake subscriber and the held-sources gauge. */
  async start(): Promise<void> {
    this.subscriber.on('message', (_channel: string, source: string) => this.wake(source));
    await this.subscriber.subscribe(this.keys.wakeChannel);
    this.loop = this.readLoop();
    const refresh = (): void => {
      void this.opts.redis.hlen(this.keys.held).then(
        (n) => this.opts.metrics?.sourcesHeld.set({ queue: this.opts.queueName }, n),
        () => undefined,
      );
    };
    refresh();
    this.heldTimer = setInterval(refresh, HELD_REFRESH_MS).unref();
  }

  /**
   * Wait for the job's turn in its source, then call `send(seq)` — synchronously on the reply
   * that admitted it, so records reach the producer in admission order — and return its receipt.
   * When the wait would be long it moves the job to delayed and throws BullMQ's `DelayedError`
   * (no attempt spent); a held source does so at once.
   */
  async publish(
    job: Job,
    token: string | undefined,
    send: (seq: number) => Promise<KafkaReceipt>,
  ): Promise<KafkaReceipt> {
    const jobId = job.id;
    if (jobId === undefined) throw new DualstreamError('A job without an id cannot be ordered');
    let waitedMs = 0;
    let inSlot = false;
    try {
      for (let round = 0; ; round += 1) {
        const attempt = await this.attempt(jobId, send);
        if (attempt.kind === 'sent') {
          this.stepAsides.delete(jobId);
          return attempt.receipt;
        }
        if (attempt.kind === 'again') continue;
        if (attempt.kind === 'unindexed') {
          // Validation passed, so its data vanished (job removed) or Redis' cjson cannot read it.
          throw new UnrecoverableError(
            `Job ${jobId} has no sourceType/sourceId that Redis can read, so it cannot be ordered`,
          );
        }
        this.opts.metrics?.orderWaits.inc({ reason: attempt.kind });
        if (!inSlot) {
          inSlot = true;
          this.waiting += 1;
        }
        // Waiting on a job that holds a slot (live) cannot deadlock; only waits on jobs that
        // need a slot themselves are capped, so that they never take every slot.
        const budget =
          attempt.kind === 'held'
            ? 0
            : attempt.live
              ? this.waits.liveMs
              : this.waiting > this.waits.maxWaiting
                ? 0
                : this.waits.idleMs;
        if (token !== undefined && waitedMs >= budget) {
          await this.stepAside(job, token, attempt);
        }
        const ms = Math.min(5 * 2 ** Math.min(round, 5), 100);
        await this.waitForWake(attempt.source, ms);
        waitedMs += ms;
      }
    } finally {
      if (inSlot) this.waiting -= 1;
    }
  }

  /** The job's record is in Kafka (and its notification sent): let the next of its source go. */
  async resolve(jobId: string): Promise<void> {
    await this.scripts.resolve(jobId);
  }

  /**
   * The job failed for good: under `continue` it leaves its source (it never gets a seq); under
   * `block` it holds the source until it is retried or removed. Safe to call twice; the admission
   * of a waiting job reaches the same verdict by itself if this call is lost.
   */
  failed(jobId: string): Promise<'skipped' | 'held' | ''> {
    return this.scripts.failed(jobId, this.opts.policy);
  }

  /**
   * Listener for the Kafka sink: a produce request with records of these sources failed.
   * Withdraws this process's admissions from the first unacknowledged job of each source on,
   * sent before any later admission of this process (same connection), and makes admissions in
   * flight ask again.
   */
  readonly onKafkaKeysFailed = (keys: ReadonlySet<string>): void => {
    this.failures += 1;
    const args: string[] = [];
    for (const source of keys) {
      const pending = this.unacked.get(source);
      if (!pending || pending.length === 0) continue;
      args.push(source, pending[0]!);
      this.unacked.delete(source);
    }
    if (args.length === 0) return;
    this.scripts.revoke(this.processId, args).catch((err: unknown) => this.emitError(err));
  };

  /** Sources held by `block`, with the job holding each. */
  async heldSources(): Promise<Record<string, string>> {
    return this.opts.redis.hgetall(this.keys.held);
  }

  /** Stop the background loops and close the connections this order opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heldTimer);
    for (const set of this.waiters.values()) for (const w of set) w();
    this.reader.disconnect();
    this.subscriber.disconnect();
    await this.loop;
  }

  private attempt(jobId: string, send: (seq: number) => Promise<KafkaReceipt>): Promise<Attempt> {
    const asked = this.failures;
    const go = (reply: Extract<AdmitReply, { kind: 'go' }>): Attempt => {
      // A request failed while we asked: the admission may already be withdrawn.
      if (this.failures !== asked) return { kind: 'again' };
      const receipt = send(reply.seq);
      this.track(reply.source, jobId, receipt);
      return { kind: 'sent', receipt };
    };
    return this.scripts.admit(jobId).then((reply): Attempt | Promise<Attempt> => {
      if (reply.kind !== 'go') return reply;
      if (!this.barrier) return go(reply);
      // The admission must be on the replicas before its record is in Kafka; the barrier
      // releases admissions in the order they were answered.
      return this.barrier.passed().then(() => go(reply));
    });
  }

  private track(source: string, jobId: string, receipt: Promise<KafkaReceipt>): void {
    let list = this.unacked.get(source);
    if (!list) this.unacked.set(source, (list = []));
    list.push(jobId);
    const settle = (): void => {
      const current = this.unacked.get(source);
      if (!current) return;
      const i = current.indexOf(jobId);
      if (i >= 0) current.splice(i, 1);
      if (current.length === 0) this.unacked.delete(source);
    };
    receipt.then(settle, settle);
  }

  private async stepAside(
    job: Job,
    token: string,
    why: Exclude<AdmitReply, { kind: 'go' | 'unindexed' }>,
  ): Promise<never> {
    const jobId = job.id!;
    const steps = (this.stepAsides.get(jobId) ?? 0) + 1;
    this.stepAsides.set(jobId, steps);
    const delay =
      why.kind === 'held'
        ? this.waits.delayMaxMs
        : Math.min(this.waits.delayBaseMs * 2 ** (steps - 1), this.waits.delayMaxMs);
    this.opts.metrics?.orderWaits.inc({ reason: 'delayed' });
    if (why.kind === 'held' && !this.heldLogged.has(jobId)) {
      this.heldLogged.add(jobId);
      await job
        .log(
          `held: source ${why.source} waits for job ${why.blocker}, which failed for good ` +
            '(ORDER_ON_FAILURE=block); retry or remove that job to release the source',
        )
        .catch(() => undefined);
    }
    if (this.stepAsides.size > 100_000) this.stepAsides.clear();
    if (this.heldLogged.size > 100_000) this.heldLogged.clear();
    // Parked first: a promotion that comes between the two finds it parked but not delayed yet,
    // and leaves it parked for the next one.
    await this.opts.redis.sadd(this.keys.parked, jobId);
    await job.moveToDelayed(Date.now() + delay, token);
    if (why.kind !== 'held') {
      await this.scripts.unpark(jobId, why.blocker).catch((err: unknown) => this.emitError(err));
    }
    throw new DelayedError(
      `waiting for job ${why.blocker} of source ${why.source} (${why.kind}); back in ${delay} ms`,
    );
  }

  private waitForWake(source: string, ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(source);
      if (!set) this.waiters.set(source, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        const s = this.waiters.get(source);
        s?.delete(done);
        if (s && s.size === 0) this.waiters.delete(source);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private wake(source: string): void {
    const set = this.waiters.get(source);
    if (set) for (const w of [...set]) w();
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const { read, resynced, cursor } = await this.scripts.index(this.reader);
        if (resynced) this.onResync();
        if (read > 0) continue;
        // Nothing new: wait (blocking) until the stream grows past the cursor.
        await this.reader.xread('COUNT', 1, 'BLOCK', 1000, 'STREAMS', this.keys.events, cursor);
      } catch (err) {
        if (this.closed) return;
        this.emitError(err);
        await sleep(1000, { unref: true });
      }
    }
  }

  private onResync(): void {
    this.opts.metrics?.orderResyncs.inc();
    this.warn?.warn(
      'resync',
      { queue: this.opts.queueName },
      "Enqueue order read from the queue's lists: the events stream was trimmed before it was " +
        'read (or this is the first ordered worker of the queue)',
    );
  }

  private emitError(err: unknown): void {
    safeEmitError(this, err, (e) =>
      this.warn?.warn('order-error', { err: { message: e.message } }, 'source order loop failed'),
    );
  }
}

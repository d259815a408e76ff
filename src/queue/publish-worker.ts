import { EventEmitter } from 'node:events';
import { Worker, type Job } from 'bullmq';
import { safeEmitError } from '../async.js';
import { DualstreamError } from '../errors.js';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { createDualPublisher, type DualPublisher } from '../publisher/index.js';
import { SourceOrder } from '../order/index.js';
import { createRedis } from '../redis.js';
import { COOLDOWN_LIMITER } from './cooldown-limiter.js';
import { KafkaBreaker } from './kafka-breaker.js';
import { ReceiptWriter } from './receipt-writer.js';
import { createPublishProcessor, type PublishHooks } from './publish-processor.js';
import type { PublishJobData } from './publish-queue.js';
import type { PublishResult } from '../publisher/index.js';

/** Dependencies of {@link createPublishWorker}; anything omitted is built from the config. */
export interface PublishWorkerDeps {
  /** Shared publisher (not closed by the worker). @defaultValue a new one, closed with the worker */
  publisher?: DualPublisher;
  logger?: Logger;
  metrics?: DualstreamMetrics;
  /** Worker connection; must have `maxRetriesPerRequest: null`. @defaultValue a new, owned one */
  connection?: Redis;
  /** @defaultValue `config.queue.concurrency` */
  concurrency?: number;
  /** BullMQ `drainDelay` in seconds (blocking wait when the queue is empty). @defaultValue 5 */
  drainDelay?: number;
  /** Processor seams (tests, tracing). */
  hooks?: PublishHooks;
  /** @defaultValue true */
  autorun?: boolean;
}

/** Typed events of {@link PublishWorker}. */
export interface PublishWorkerEvents {
  /** Connection and processing errors of the BullMQ worker and of the source order's loop. */
  error: [err: Error];
}

/**
 * The publish worker: runs the publish processor with the configured concurrency, cools down
 * (queue-wide rate limit, no attempt spent) after repeated Kafka failures, probes, and resumes.
 * Emits `error` for connection and processing errors of the BullMQ worker; without a listener
 * they are logged.
 */
export class PublishWorker extends EventEmitter<PublishWorkerEvents> {
  /** The underlying BullMQ worker. */
  readonly worker: Worker<PublishJobData, PublishResult>;
  /** The Kafka cool-down breaker (state readable for health checks). */
  readonly breaker: KafkaBreaker;
  /** Per-source order, unless `ORDERING=none`. */
  readonly order: SourceOrder | undefined;
  /** Order scripts and receipts (fail-fast, not blocking). */
  private readonly scriptConnection: Redis;
  private readonly publisher: DualPublisher;
  private readonly ownsPublisher: boolean;
  private readonly connection: Redis;
  private readonly ownsConnection: boolean;
  private closing: Promise<void> | null = null;

  constructor(config: DualstreamConfig, deps: PublishWorkerDeps = {}) {
    super();
    const { logger, metrics } = deps;
    this.ownsPublisher = deps.publisher === undefined;
    this.publisher =
      deps.publisher ??
      createDualPublisher(config, {
        ...(logger ? { logger } : {}),
        ...(metrics ? { metrics } : {}),
      });
    this.ownsConnection = deps.connection === undefined;
    this.connection =
      deps.connection ??
      createRedis(config.redis.url, { name: 'dualstream-worker', blocking: true });
    this.breaker = new KafkaBreaker({
      failureThreshold: config.kafka.failureThreshold,
      cooldownMs: config.kafka.cooldownMs,
    });
    this.scriptConnection = createRedis(config.redis.url, { name: 'dualstream-worker-scripts' });
    this.scriptConnection.on('error', () => undefined);
    if (config.order.mode === 'source') {
      this.order = new SourceOrder({
        redis: this.scriptConnection,
        connect: (name) => createRedis(config.redis.url, { name, blocking: true }),
        prefix: config.redis.prefix,
        queueName: config.queue.name,
        policy: config.order.onFailure,
        replicas: { count: config.order.waitReplicas, timeoutMs: config.order.waitTimeoutMs },
        waits: {
          maxWaiting: Math.max(1, Math.floor((deps.concurrency ?? config.queue.concurrency) / 2)),
        },
        ...(metrics ? { metrics } : {}),
        ...(logger ? { logger } : {}),
      });
      this.publisher.onKafkaKeysFailed(this.order.onKafkaKeysFailed);
      this.order.on('error', (err) =>
        safeEmitError(this, err, (e) =>
          logger?.warn({ err: { message: e.message } }, 'source order loop failed'),
        ),
      );
    }
    const processor = createPublishProcessor({
      publisher: this.publisher,
      breaker: this.breaker,
      // worker.rateLimit writes the queue's limiter key, which every worker of the queue honours
      // (see `limiter` below), so one process's cool-down pauses the whole fleet.
      rateLimit: (ms) => this.worker.rateLimit(ms),
      maxPayloadBytes: config.events.maxPayloadBytes,
      retry: { attempts: config.queue.attempts, backoffDelayMs: config.queue.backoffDelayMs },
      receipts: new ReceiptWriter(this.scriptConnection, config.redis.prefix, config.queue.name),
      ...(this.order ? { order: this.order } : {}),
      ...(metrics ? { metrics } : {}),
      ...(logger ? { logger } : {}),
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
    });
    const worker = new Worker<PublishJobData, PublishResult>(
      config.queue.name,
      shortStacks(processor),
      {
        connection: this.connection,
        prefix: config.redis.prefix,
        concurrency: deps.concurrency ?? config.queue.concurrency,
        // The order's reader and subscriber are up before the first job is taken.
        autorun: false,
        drainDelay: deps.drainDelay ?? 5,
        // Inert except during a Kafka cool-down (see cooldown-limiter.ts).
        limiter: { ...COOLDOWN_LIMITER },
        // A killed worker's jobs come back through BullMQ's stalled-job check: after their lock
        // expires and within two check intervals. With per-source order their sources wait for
        // them, so both are shorter than BullMQ's 30 s defaults (locks are renewed every 7.5 s).
        lockDuration: 15_000,
        stalledInterval: 5_000,
        // For jobs added by plain producers without options: keep completed ones for the jobId
        // de-duplication window. Failed ones are kept (the default) for the operator.
        removeOnComplete: {
          age: config.queue.keepCompletedSeconds,
          count: config.queue.keepCompletedCount,
        },
      },
    );
    this.worker = worker;
    const autorun = deps.autorun ?? true;
    this.started = (async () => {
      if (this.order) {
        await this.order.start().catch((err: unknown) => {
          logger?.warn({ err }, 'source order could not start its reader; admissions still work');
        });
      }
      if (autorun && !this.closing) {
        worker.run().catch((err: unknown) => worker.emit('error', err as Error));
      }
    })();
    worker.on('error', (err) =>
      safeEmitError(this, err, (e) => logger?.error({ err: e }, 'publish worker error')),
    );
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final =
        err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final && this.order && job.id !== undefined) {
        // Eager; a lost call is made good by the next admission of its source.
        this.order.failed(job.id).catch(() => undefined);
      }
      logger?.[final ? 'error' : 'debug'](
        { jobId: job.id, attemptsMade: job.attemptsMade, err: { message: err.message } },
        final ? 'publish job failed for good' : 'publish job failed; will retry',
      );
    });
  }

  /** Resolves once the worker runs (after the order's reader and subscriber started). */
  readonly started: Promise<void>;

  /** Whether Kafka and the Pub/Sub Redis answer. */
  ping(): Promise<{ kafka: boolean; pubsub: boolean }> {
    return this.publisher.ping();
  }

  /**
   * Stop fetching, let active jobs finish, flush the Kafka sink, then disconnect what this
   * worker created. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.started.catch(() => undefined);
      await this.worker.close();
      await this.order?.close();
      this.scriptConnection.disconnect();
      if (this.ownsPublisher) await this.publisher.close();
      if (this.ownsConnection)
        await this.connection.quit().catch(() => this.connection.disconnect());
    })();
    return this.closing;
  }
}

/**
 * Bull Board shows a failed job's stack under its reason. For the failures we expect and name
 * (an invalid event, a Kafka error) the frames are BullMQ's and ours, of no use to an operator,
 * so the stack is cut to the reason (and its cause); unexpected errors keep their full stack.
 */
function shortStacks<D, R>(
  processor: (job: Job<D, R>, token?: string) => Promise<R>,
): (job: Job<D, R>, token?: string) => Promise<R> {
  return async (job, token) => {
    try {
      return await processor(job, token);
    } catch (err) {
      if (
        err instanceof Error &&
        (err.name === 'UnrecoverableError' || err instanceof DualstreamError)
      ) {
        const cause =
          err.cause instanceof Error ? `\ncaused by ${err.cause.name}: ${err.cause.message}` : '';
        err.stack = `${err.name}: ${err.message}${cause}`;
      }
      throw err;
    }
  };
}

/** Create and start a {@link PublishWorker}. */
export function createPublishWorker(
  config: DualstreamConfig,
  deps: PublishWorkerDeps = {},
): PublishWorker {
  return new PublishWorker(config, deps);
}

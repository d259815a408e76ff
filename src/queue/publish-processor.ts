import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { backoffDelay, retry as retryWithBackoff } from '../async.js';
import { DualstreamError } from '../errors.js';
import { safeParseEvent, type DualEvent, type KafkaReceipt } from '../events/index.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { DualPublisher } from '../publisher/index.js';
import type { SourceOrder } from '../order/index.js';
import { isTransientRedisError } from '../redis.js';
import type { KafkaBreaker } from './kafka-breaker.js';
import type { ReceiptWriter } from './receipt-writer.js';
import type { PublishJobData } from './publish-queue.js';
import type { PublishResult } from '../publisher/index.js';

/** Test and observability seams of the processor. A hook that throws fails the attempt. */
export interface PublishHooks {
  /** After the receipt was recorded on the job, before the notification. */
  afterReceipt?: (job: Job<PublishJobData>, receipt: KafkaReceipt) => void | Promise<void>;
}

/** Dependencies of {@link createPublishProcessor}. */
export interface PublishProcessorDeps {
  publisher: Pick<DualPublisher, 'publishToKafka' | 'notify' | 'kafkaHealth'>;
  breaker: KafkaBreaker;
  /** Sets the queue-wide rate limit (the worker's `rateLimit`). */
  rateLimit: (ms: number) => Promise<void>;
  maxPayloadBytes: number;
  /**
   * The worker's own retry floor for Kafka failures. A job whose producer gave it fewer attempts
   * (a plain `queue.add` gets BullMQ's default of one) is still tried this many times, with
   * exponential backoff and jitter, before it stays failed.
   */
  retry?: { attempts: number; backoffDelayMs: number };
  /**
   * Per-source order (`ORDERING=source`): the Kafka write waits for the job's turn in its source
   * and carries its `source-seq`; the source moves on once the notification was sent.
   */
  order?: Pick<SourceOrder, 'publish' | 'resolve'>;
  /**
   * Records the receipt on the job. @defaultValue `job.updateData` (one script call per job; the
   * worker passes a {@link ReceiptWriter}, which batches them)
   */
  receipts?: Pick<ReceiptWriter, 'write'>;
  metrics?: DualstreamMetrics;
  logger?: Logger;
  hooks?: PublishHooks;
}

/**
 * The publish job processor, as resumable steps: validate → Kafka (skipped when an earlier
 * attempt recorded its receipt) → record the receipt on the job → notify (best-effort).
 */
export function createPublishProcessor(deps: PublishProcessorDeps) {
  const { publisher, breaker, order, metrics, logger } = deps;
  const recordReceipt = (job: Job<PublishJobData, PublishResult>, data: PublishJobData) =>
    deps.receipts ? deps.receipts.write(job, data) : job.updateData(data);

  const hold = async (
    ms: number,
    job: Job<PublishJobData, PublishResult>,
    token: string | undefined,
  ): Promise<never> => {
    const wait = Math.max(1, Math.ceil(ms));
    if (breaker.current === 'probing' && token !== undefined) {
      // One job probes Kafka. Pausing the fleet behind it would let only one job a second try:
      // with per-source order the probe may be a job that has to step aside for an earlier one
      // of its source, and the next probe must come at once, or the heads of the sources are
      // reached only after minutes. So the others step aside briefly, and fetching goes on.
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError(`a Kafka probe is in flight; back in ${wait} ms`);
    }
    await deps.rateLimit(wait);
    // Back to wait without spending an attempt; the worker stops fetching until the limit ends.
    throw Worker.RateLimitError();
  };

  const run = async (
    job: Job<PublishJobData, PublishResult>,
    token?: string,
  ): Promise<PublishResult> => {
    const event = validate(job, deps.maxPayloadBytes, metrics);

    let receipt = receiptOf(job.data);
    if (!receipt) {
      const decision = breaker.admit();
      if (!decision.go) return hold(decision.holdMs, job, token);
      try {
        receipt = order
          ? await order.publish(job, token, (seq) => publisher.publishToKafka(event, seq))
          : await publisher.publishToKafka(event);
        breaker.onSuccess();
      } catch (err) {
        if (err instanceof DelayedError || err instanceof UnrecoverableError) {
          // Stepped aside to wait for an earlier job of its source, or cannot be ordered at all:
          // Kafka was not tried.
          if (decision.probe) breaker.cancelProbe();
          throw err;
        }
        const wasOpen = breaker.current === 'open';
        const streak = publisher.kafkaHealth().consecutiveFailures;
        if (breaker.onFailure(streak, decision.probe)) {
          if (!wasOpen) {
            metrics?.kafkaCooldowns.inc();
            logger?.warn(
              { err, streak, cooldownMs: breaker.remainingMs() },
              'Kafka looks down: pausing the publish worker for a cool-down',
            );
          }
          return hold(breaker.remainingMs(), job, token);
        }
        await retryLaterIfOwed(job, err, deps.retry, token);
        throw err;
      }
      try {
        await recordReceipt(job, { ...job.data, receipt });
      } catch (err) {
        // The record is in Kafka but not on the job: a retry writes it again (a duplicate that
        // consumers drop by event-id). Failing here is still right: the job must not complete
        // without a durable receipt.
        metrics?.publishFailures.inc({ stage: 'receipt' });
        throw err;
      }
      await deps.hooks?.afterReceipt?.(job, receipt);
    }

    let notified = false;
    try {
      notified = await publisher.notify(event, receipt);
    } catch (err) {
      // A notifier must not throw, but if a custom one does, the event is still in Kafka.
      metrics?.notifyFailures.inc();
      logger?.debug({ err }, 'notify threw');
    }
    // After the notification, so a source's notifications go out in seq order across processes.
    if (order && job.id !== undefined) await order.resolve(job.id);
    return { id: event.id, ...receipt, notified };
  };

  return async function processPublishJob(
    job: Job<PublishJobData, PublishResult>,
    token?: string,
  ): Promise<PublishResult> {
    try {
      return await run(job, token);
    } catch (err) {
      if (token === undefined || !isTransientRedisError(err)) throw err;
      metrics?.publishFailures.inc({ stage: 'redis' });
      logger?.debug({ err, jobId: job.id }, 'Redis unavailable during the job: retrying it later');
      return retryAfterRedisError(job, token, err);
    }
  };
}

/**
 * A Redis failover or reconnect hit the job (the order scripts, the receipt, a retry's own
 * bookkeeping): not the event's fault, so it must not fail the job, not even one added with
 * BullMQ's default of one attempt. Move it to delayed, without spending an attempt, once Redis
 * answers again (a few seconds of retries); if it does not, or the job's lock was lost meanwhile,
 * the original error goes to BullMQ, whose stalled-job check brings a job without a lock back.
 */
async function retryAfterRedisError(
  job: Job<PublishJobData, PublishResult>,
  token: string,
  err: unknown,
): Promise<never> {
  const delay = backoffDelay(1, { initialMs: REDIS_RETRY_DELAY_MS, jitter: 0.5 });
  try {
    await retryWithBackoff(() => job.moveToDelayed(Date.now() + delay, token), {
      retries: 8,
      initialMs: 250,
      maxMs: 2000,
      retriable: isTransientRedisError,
    });
  } catch {
    throw err;
  }
  throw new DelayedError(
    `Redis was unavailable (${(err as Error).message.slice(0, 120)}); retrying in ${delay} ms`,
  );
}

/** Delay before a job hit by a Redis failover runs again (with up to half of it random). */
const REDIS_RETRY_DELAY_MS = 500;

/**
 * When BullMQ would fail the job for good (its own attempts are used up) but the worker's retry
 * floor allows more, move it to delayed ourselves. The count lives in the job data
 * (`kafkaFailures`), not in BullMQ's counters, because cool-down holds also bump those.
 */
async function retryLaterIfOwed(
  job: Job<PublishJobData, PublishResult>,
  err: unknown,
  retry: PublishProcessorDeps['retry'],
  token: string | undefined,
): Promise<void> {
  if (!retry || token === undefined) return;
  if (err instanceof DualstreamError && !err.retriable) return;
  const lastByJob = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const failures = (Number((job.data as { kafkaFailures?: unknown }).kafkaFailures) || 0) + 1;
  if (!lastByJob || failures >= retry.attempts) return;
  const delay = backoffDelay(failures, { initialMs: retry.backoffDelayMs, jitter: 0.5 });
  await job.updateData({ ...job.data, kafkaFailures: failures } as PublishJobData);
  await job.moveToDelayed(Date.now() + delay, token);
  throw new DelayedError(
    `Kafka write failed (${failures} of ${retry.attempts}); retrying in ${delay} ms`,
  );
}

/** The event id of a job without one: stable across retries, no Redis round trip. */
export function jobEventId(job: Pick<Job, 'id' | 'timestamp' | 'queueName'>): string {
  return `${job.queueName}-${job.id ?? 'unknown'}-${job.timestamp}`.replace(/[\s:]/g, '_');
}

function validate(
  job: Job<PublishJobData>,
  maxPayloadBytes: number,
  metrics?: DualstreamMetrics,
): DualEvent {
  const data: unknown = job.data;
  const input =
    data !== null && typeof data === 'object' && !Array.isArray(data) && !('id' in data)
      ? { ...data, id: jobEventId(job) }
      : data;
  const r = safeParseEvent(input, { maxPayloadBytes });
  if (!r.success) {
    metrics?.publishFailures.inc({ stage: 'validate' });
    metrics?.eventsRejected.inc({ entry: 'queue' });
    throw new UnrecoverableError(r.error.message);
  }
  return r.event;
}

function receiptOf(data: PublishJobData): KafkaReceipt | undefined {
  const r = (data as { receipt?: unknown } | null)?.receipt;
  if (r === null || typeof r !== 'object') return undefined;
  const { topic, partition, offset } = r as Record<string, unknown>;
  if (
    typeof topic === 'string' &&
    Number.isInteger(partition) &&
    (partition as number) >= 0 &&
    typeof offset === 'string' &&
    /^\d+$/.test(offset)
  ) {
    const { seq } = r as Record<string, unknown>;
    return Number.isInteger(seq) && (seq as number) > 0
      ? { topic, partition: partition as number, offset, seq: seq as number }
      : { topic, partition: partition as number, offset };
  }
  return undefined;
}

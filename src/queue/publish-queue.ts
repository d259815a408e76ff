import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { isClusterUrl } from '../config/config.js';
import type { DualstreamConfig } from '../config/index.js';
import { createRedis } from '../redis.js';
import type { EventInput, KafkaReceipt } from '../events/index.js';
import type { PublishResult } from '../publisher/index.js';

/**
 * Data of a publish job: the event input itself (what a plain `queue.add(name, event)` sends),
 * plus the Kafka receipt once an attempt has written it, so a retry does not write again.
 */
export type PublishJobData = EventInput & {
  /** Set by the worker after the Kafka write; a retry with a receipt skips Kafka. */
  receipt?: KafkaReceipt;
  /** Kafka failures counted by the worker's retry floor (see `JOB_ATTEMPTS`). */
  kafkaFailures?: number;
};

/**
 * Default job options of the publish queue: attempts and exponential backoff with jitter from
 * the config; completed jobs kept by age (the jobId de-duplication window) and count; failed jobs
 * kept, so an operator can retry them.
 */
export function publishJobOptions(config: DualstreamConfig): JobsOptions {
  return {
    attempts: config.queue.attempts,
    backoff: { type: 'exponential', delay: config.queue.backoffDelayMs, jitter: 0.5 },
    removeOnComplete: {
      age: config.queue.keepCompletedSeconds,
      count: config.queue.keepCompletedCount,
    },
    removeOnFail: false,
  };
}

/** Options of {@link createPublishQueue}. */
export interface CreatePublishQueueOptions {
  /** Shared connection (not closed by `queue.close()`). @defaultValue a new one to `config.redis.url` */
  connection?: Redis;
}

/** The publish queue (name and prefix from the config) with {@link publishJobOptions}. */
export function createPublishQueue(
  config: DualstreamConfig,
  options: CreatePublishQueueOptions = {},
): Queue<PublishJobData, PublishResult> {
  if (options.connection === undefined && isClusterUrl(config.redis.url)) {
    // BullMQ cannot build a Cluster client from a URL: make one, and close it with the queue.
    const connection = createRedis(config.redis.url, { name: 'dualstream-queue' });
    const queue = new Queue<PublishJobData, PublishResult>(config.queue.name, {
      connection,
      prefix: config.redis.prefix,
      defaultJobOptions: publishJobOptions(config),
    });
    const close = queue.close.bind(queue);
    queue.close = async () => {
      await close();
      await connection.quit().catch(() => connection.disconnect());
    };
    return queue;
  }
  return new Queue<PublishJobData, PublishResult>(config.queue.name, {
    connection: options.connection ?? { url: config.redis.url },
    prefix: config.redis.prefix,
    defaultJobOptions: publishJobOptions(config),
  });
}

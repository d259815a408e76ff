import type { Redis } from 'ioredis';
import { withTimeout } from '../async.js';
import { notificationMessage, type DualEvent, type KafkaReceipt } from '../events/index.js';
import { RateLimitedLog, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';

/** Options of {@link RedisNotifier}. */
export interface RedisNotifierOptions {
  /** The Pub/Sub Redis. May be a different instance from the queue Redis. */
  redis: Redis;
  /** Channels are `<channelPrefix>:<sourceType>:<sourceId>`. @defaultValue `events` */
  channelPrefix?: string;
  /** A pipeline that has not answered after this long counts as failed. @defaultValue 1000 ms */
  timeoutMs?: number;
  /** Whether {@link RedisNotifier.close} quits the Redis connection. @defaultValue false */
  ownsConnection?: boolean;
  logger?: Logger;
  metrics?: DualstreamMetrics;
}

/** One notification to send. */
export interface NotifyItem {
  event: DualEvent;
  receipt: KafkaReceipt;
}

interface Queued {
  channel: string;
  message: string;
  done: (ok: boolean) => void;
}

/**
 * Best-effort Redis Pub/Sub notifier. Notifications requested in the same tick go out in one
 * pipeline. It never throws into the pipeline: a failure resolves `false`, is counted in
 * `dualstream_notify_failures_total`, and is logged at most every 10 s.
 */
export class RedisNotifier {
  private readonly redis: Redis;
  private readonly channelPrefix: string | undefined;
  private readonly timeoutMs: number;
  private readonly ownsConnection: boolean;
  private readonly metrics: DualstreamMetrics | undefined;
  private readonly warn: RateLimitedLog | undefined;
  private queued: Queued[] = [];
  private scheduled = false;
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  constructor(options: RedisNotifierOptions) {
    this.redis = options.redis;
    this.channelPrefix = options.channelPrefix;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.ownsConnection = options.ownsConnection ?? false;
    this.metrics = options.metrics;
    this.warn = options.logger ? new RateLimitedLog(options.logger) : undefined;
    // An 'error' event without a listener would crash the process; reconnects are ioredis' job.
    if (this.redis.listenerCount('error') === 0) this.redis.on('error', () => undefined);
  }

  /** PUBLISH one notification; resolves whether Redis accepted it. Never rejects. */
  notify(event: DualEvent, receipt: KafkaReceipt): Promise<boolean> {
    if (this.closed) return Promise.resolve(this.failed(1, new Error('notifier closed')));
    const { channel, message } = notificationMessage(event, receipt, this.channelPrefix);
    return new Promise<boolean>((done) => {
      this.queued.push({ channel, message, done });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  /** PUBLISH many notifications in one pipeline; one boolean per item. Never rejects. */
  notifyMany(items: NotifyItem[]): Promise<boolean[]> {
    return Promise.all(items.map((i) => this.notify(i.event, i.receipt)));
  }

  /** Whether the Pub/Sub Redis answers PING within the timeout. */
  async ping(): Promise<boolean> {
    return withTimeout(this.redis.ping(), this.timeoutMs, 'PING timed out').then(
      (r) => r === 'PONG',
      () => false,
    );
  }

  /** Wait for pending notifications; quit the connection if this notifier owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    await Promise.all(this.inflight);
    if (this.ownsConnection) {
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    const p = this.send(batch);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async send(batch: Queued[]): Promise<void> {
    let results: boolean[];
    try {
      const pipeline = this.redis.pipeline();
      for (const q of batch) pipeline.publish(q.channel, q.message);
      // The pipeline may settle after the timeout (offline queue); that late result is ignored.
      const replies = await withTimeout(
        pipeline.exec(),
        this.timeoutMs,
        `Pub/Sub Redis did not answer within ${this.timeoutMs} ms`,
      );
      const errors = (replies ?? []).filter(([err]) => err);
      results = batch.map((_, i) => !replies?.[i]?.[0]);
      if (errors.length > 0) this.failed(errors.length, errors[0]![0]!);
    } catch (err) {
      this.failed(batch.length, err as Error);
      results = batch.map(() => false);
    }
    const sent = results.filter(Boolean).length;
    if (sent > 0) this.metrics?.notificationsSent.inc(sent);
    batch.forEach((q, i) => q.done(results[i] ?? false));
  }

  private failed(count: number, err: Error): false {
    this.metrics?.notifyFailures.inc(count);
    this.warn?.warn(
      'notify',
      { err: { message: err.message }, count },
      'Redis Pub/Sub notification failed (best-effort; the event is in Kafka)',
    );
    return false;
  }
}

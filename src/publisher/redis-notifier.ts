import type { Redis } from 'ioredis';
import { withTimeout } from '../async.js';
import { notificationMessage, type DualEvent, type KafkaReceipt } from '../events/index.js';
import { RateLimitedLog, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { repairChannelFor, type EdgeHistory } from '../realtime/history.js';
import { isClusterUrl } from '../config/config.js';
import { createRedis } from '../redis.js';

/**
 * The notifier's own connection to the Pub/Sub Redis. It fails fast: one retry per request, and
 * no offline queue, so that nothing sent while Redis is away runs later behind the notifier's
 * back (a timed-out notification would otherwise be published after the later ones, or after
 * its own write-back). What fails is written back in order once Redis is ready.
 */
export function createNotifierRedis(url: string): Redis {
  return createRedis(url, {
    name: 'dualstream-pubsub',
    // ioredis' Cluster client keeps its own queue while it finds the nodes; the order of a
    // source's notifications is not kept on a cluster anyway (docs/clusters.md).
    extra: { maxRetriesPerRequest: 1, ...(isClusterUrl(url) ? {} : { enableOfflineQueue: false }) },
  });
}

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
  /**
   * Retained history of the real-time edge: a notification with a `seq` is retained and
   * published by one script (see `src/realtime/history.ts`). @defaultValue none (PUBLISH only)
   */
  history?: EdgeHistory;
  /**
   * Retained writes that failed (Pub/Sub Redis away) are kept in memory, up to this many, and
   * written to the history once Redis answers, published on the repair channel only (see
   * `repairChannelFor`). @defaultValue 10 000
   */
  repairBacklog?: number;
}

/** One notification to send. */
export interface NotifyItem {
  event: DualEvent;
  receipt: KafkaReceipt;
}

interface Queued {
  channel: string;
  message: string;
  /** Set when the notification goes through the history script. */
  edge?: NotifyItem & { receipt: { seq: number } };
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
  private readonly history: EdgeHistory | undefined;
  private readonly repairCap: number;
  private backlog: Queued['edge'][] = [];
  private repairing: Promise<void> | null = null;
  private repairTimer: NodeJS.Timeout | undefined;
  private everReady = false;

  constructor(options: RedisNotifierOptions) {
    this.redis = options.redis;
    this.channelPrefix = options.channelPrefix;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.ownsConnection = options.ownsConnection ?? false;
    this.metrics = options.metrics;
    this.warn = options.logger ? new RateLimitedLog(options.logger) : undefined;
    // An 'error' event without a listener would crash the process; reconnects are ioredis' job.
    if (this.redis.listenerCount('error') === 0) this.redis.on('error', () => undefined);
    this.history = options.history;
    this.repairCap = options.repairBacklog ?? 10_000;
    this.everReady = this.redis.status === 'ready';
    this.redis.on('ready', () => {
      this.everReady = true;
      this.repair();
    });
    if (this.history) this.history.define(this.redis);
  }

  /** PUBLISH one notification; resolves whether Redis accepted it. Never rejects. */
  notify(event: DualEvent, receipt: KafkaReceipt): Promise<boolean> {
    if (this.closed) return Promise.resolve(this.failed(1, new Error('notifier closed')));
    const { channel, message } = notificationMessage(event, receipt, this.channelPrefix);
    const seq = receipt.seq;
    const edge =
      this.history && seq !== undefined ? { event, receipt: { ...receipt, seq } } : undefined;
    return new Promise<boolean>((done) => {
      this.queued.push({ channel, message, done, ...(edge ? { edge } : {}) });
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
    clearInterval(this.repairTimer);
    await Promise.all(this.inflight);
    await this.repairing;
    if (this.ownsConnection) {
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    const p = this.sendInOrder(batch);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /**
   * Send after what must go first. Before the first connection is ready, wait for it (bounded):
   * without an offline queue these would fail at start-up for nothing. Notifications that failed
   * earlier are written back before: a later seq of a source must not go out before this
   * process's earlier ones (the edge would have to wait for them, or announce them missed). Both
   * waits are bounded by the timeout; during an outage nothing waits, it fails at once.
   */
  private async sendInOrder(batch: Queued[]): Promise<void> {
    if (!this.everReady && this.redis.status !== 'ready') await this.firstReady(this.timeoutMs);
    if (this.backlog.length > 0) this.repair();
    if (this.repairing) {
      await withTimeout(this.repairing, this.timeoutMs, 'repair').catch(() => undefined);
    }
    await this.send(batch);
  }

  private firstReady(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.redis.on('ready', done);
    });
  }

  private async send(batch: Queued[]): Promise<void> {
    let results: boolean[];
    try {
      const pipeline = this.redis.pipeline();
      for (const q of batch) {
        if (q.edge && this.history) {
          void this.history.append(pipeline, q.channel, q.edge.event, q.edge.receipt);
        } else pipeline.publish(q.channel, q.message);
      }
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
    batch.forEach((q, i) => {
      if (!results[i] && q.edge) this.keepForRepair(q.edge);
    });
    if (sent > 0 && this.backlog.length > 0) this.repair();
    batch.forEach((q, i) => q.done(results[i] ?? false));
  }

  private keepForRepair(item: Queued['edge']): void {
    this.backlog.push(item);
    // Tried again every second while anything waits: a write-back that failed (Redis went away
    // again, or came back before these failures were counted) must not wait for another send
    // or reconnect, which may never come.
    this.repairTimer ??= setInterval(() => {
      if (this.backlog.length > 0 && !this.closed) this.repair();
      else {
        clearInterval(this.repairTimer);
        this.repairTimer = undefined;
      }
    }, 1000).unref();
    // Bounded: the oldest go first; a subscriber detects the hole by seq and gets a reset.
    if (this.backlog.length > this.repairCap)
      this.backlog.splice(0, this.backlog.length - this.repairCap);
  }

  /**
   * Write the retained entries of notifications that failed, once Redis answers again, so that a
   * resume after a Pub/Sub outage still finds them. Published on the repair channel, not the
   * source's: plain subscribers would see them out of order, the edge orders them by seq. One run
   * at a time; what fails stays for the next.
   */
  private repair(): void {
    if (this.repairing || this.backlog.length === 0 || !this.history || this.closed) return;
    const history = this.history;
    this.repairing = (async () => {
      while (this.backlog.length > 0 && !this.closed) {
        const batch = this.backlog.splice(0, 500);
        try {
          const pipeline = this.redis.pipeline();
          for (const item of batch) {
            if (!item) continue;
            const channel = repairChannelFor(item.event, this.channelPrefix);
            void history.append(pipeline, channel, item.event, item.receipt);
          }
          const replies = await pipeline.exec();
          if ((replies ?? []).some(([err]) => err)) throw new Error('repair write failed');
        } catch {
          this.backlog.unshift(...batch);
          break;
        }
      }
    })().finally(() => {
      this.repairing = null;
    });
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

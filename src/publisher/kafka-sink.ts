import { DualstreamError, KafkaPublishError } from '../errors.js';
import type { EventRecord, KafkaReceipt } from '../events/index.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { EventProducer } from './event-producer.js';

/** Options of {@link KafkaSink}. */
export interface KafkaSinkOptions {
  producer: EventProducer;
  /** How long the first record of a batch waits for company. Default: 5 ms (config) */
  lingerMs: number;
  /** Records per produce request at most. Default: 1000 (config) */
  batchMaxCount: number;
  /** Bytes per produce request at most (a single larger record is sent alone). Default: 1 MiB */
  batchMaxBytes: number;
  /** Bytes accepted and not yet acknowledged at most; `publish` waits above it. Default: 64 MiB */
  maxInflightBytes: number;
  /** Produce requests in flight at once. Above 1, batches of one key may be reordered by retries. @defaultValue 1 */
  maxConcurrentSends?: number;
  /**
   * Keep per-key order across failures: when a produce request fails, records of the same keys
   * that are queued behind it fail too (none is sent ahead of the failed ones), and the
   * listeners of {@link KafkaSink.onKeysFailed} hear of it first. @defaultValue false
   */
  orderedKeys?: boolean;
  metrics?: DualstreamMetrics;
  logger?: Logger;
}

/** Health of the Kafka path as seen by the sink. */
export interface KafkaSinkHealth {
  /** Produce requests that failed in a row (0 after any success). */
  consecutiveFailures: number;
  /** The last produce error, until a success clears it. */
  lastError?: Error;
}

interface Pending {
  record: EventRecord;
  bytes: number;
  resolve: (r: KafkaReceipt) => void;
  reject: (e: Error) => void;
}

interface CapacityWaiter {
  bytes: number;
  key: string;
  go: () => void;
  fail: (e: Error) => void;
}

interface Batch {
  items: Pending[];
  bytes: number;
}

/**
 * Coalesces concurrent publishes into one produce request per linger window (or as soon as the
 * batch reaches `batchMaxCount` / `batchMaxBytes`) and resolves each caller with its own
 * partition and offset. A failed request rejects every caller in it with a retriable
 * {@link KafkaPublishError}. In-flight bytes are bounded: `publish` waits instead of buffering.
 */
export class KafkaSink {
  private readonly opts: Required<Omit<KafkaSinkOptions, 'metrics' | 'logger' | 'orderedKeys'>> &
    Pick<KafkaSinkOptions, 'orderedKeys'> &
    Pick<KafkaSinkOptions, 'metrics' | 'logger'>;
  private open: Batch | null = null;
  private readonly ready: Batch[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending = 0;
  private inflightBytes = 0;
  private readonly capacityWaiters: CapacityWaiter[] = [];
  private readonly keyFailureListeners = new Set<(keys: ReadonlySet<string>) => void>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private failures = 0;
  private lastError: Error | undefined;

  constructor(options: KafkaSinkOptions) {
    if (options.batchMaxCount < 1) throw new RangeError('batchMaxCount must be at least 1');
    this.opts = { maxConcurrentSends: 1, ...options };
    if (this.opts.orderedKeys && this.opts.maxConcurrentSends > 1) {
      // Two requests in flight could land in either order after a failure of the first.
      throw new RangeError('orderedKeys needs maxConcurrentSends 1');
    }
  }

  /** Failures in a row and the last error, for the worker's cool-down logic and health checks. */
  get health(): KafkaSinkHealth {
    return this.lastError
      ? { consecutiveFailures: this.failures, lastError: this.lastError }
      : { consecutiveFailures: this.failures };
  }

  /**
   * Hear, synchronously and before any caller's promise settles, which record keys a failed
   * produce request carried. Used by source ordering to withdraw admissions at once.
   */
  onKeysFailed(listener: (keys: ReadonlySet<string>) => void): void {
    this.keyFailureListeners.add(listener);
  }

  /** Bytes accepted and not yet acknowledged. */
  get bufferedBytes(): number {
    return this.inflightBytes;
  }

  /** Whether Kafka answers (the producer's ping, else: the last produce request succeeded). */
  async ping(): Promise<boolean> {
    const { producer } = this.opts;
    if (producer.ping) return producer.ping().catch(() => false);
    return this.failures === 0;
  }

  /** Queue one record; resolves when Kafka acknowledged it (acks=all). */
  publish(record: EventRecord): Promise<KafkaReceipt> {
    if (this.closed) return Promise.reject(new DualstreamError('KafkaSink is closed'));
    const bytes = recordBytes(record);
    // Fast path stays synchronous so that a flush() right after publish() sees the record.
    if (this.capacityWaiters.length === 0 && this.fits(bytes)) {
      this.inflightBytes += bytes;
      return this.enqueue(record, bytes);
    }
    return new Promise<void>((go, fail) =>
      this.capacityWaiters.push({ bytes, key: record.key, go, fail }),
    ).then(() => this.enqueue(record, bytes));
  }

  private enqueue(record: EventRecord, bytes: number): Promise<KafkaReceipt> {
    return new Promise<KafkaReceipt>((resolve, reject) => {
      const item: Pending = { record, bytes, resolve, reject };
      const { batchMaxCount, batchMaxBytes } = this.opts;
      if (
        this.open &&
        (this.open.items.length + 1 > batchMaxCount || this.open.bytes + bytes > batchMaxBytes)
      ) {
        this.seal();
      }
      this.open ??= { items: [], bytes: 0 };
      this.open.items.push(item);
      this.open.bytes += bytes;
      if (
        this.open.items.length >= batchMaxCount ||
        this.open.bytes >= batchMaxBytes ||
        this.idleWaiters.length > 0 // someone is flushing: do not linger
      ) {
        this.seal();
      } else if (!this.timer) {
        this.timer = setTimeout(() => this.seal(), this.opts.lingerMs);
      }
    });
  }

  /** Send whatever is buffered now and wait until every accepted record is settled. */
  async flush(): Promise<void> {
    this.seal();
    if (this.inflightBytes === 0 && this.sending === 0 && this.ready.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flush, refuse new records, and disconnect the producer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    await this.opts.producer.disconnect();
  }

  // A record larger than the whole budget still goes through, alone, rather than deadlocking.
  private fits(bytes: number): boolean {
    return this.inflightBytes === 0 || this.inflightBytes + bytes <= this.opts.maxInflightBytes;
  }

  private release(bytes: number): void {
    this.inflightBytes -= bytes;
    // FIFO: the oldest waiter goes first so that a large record is not starved by small ones.
    while (this.capacityWaiters.length > 0) {
      const next = this.capacityWaiters[0]!;
      if (!this.fits(next.bytes)) break;
      this.capacityWaiters.shift();
      this.inflightBytes += next.bytes;
      next.go();
    }
  }

  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.open && this.open.items.length > 0) this.ready.push(this.open);
    this.open = null;
    this.pump();
  }

  private pump(): void {
    while (this.sending < this.opts.maxConcurrentSends && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      this.sending += 1;
      void this.send(batch).finally(() => {
        this.sending -= 1;
        this.pump();
        this.maybeIdle();
      });
    }
  }

  // Records of a failed key that wait behind the failed request fail with it, so that a later
  // record of the key can never reach Kafka before the failed one is written again.
  private failQueued(keys: ReadonlySet<string>, error: Error): void {
    // Waiters first: releasing bytes below may let a waiter in.
    for (let i = this.capacityWaiters.length - 1; i >= 0; i -= 1) {
      const waiter = this.capacityWaiters[i]!;
      if (!keys.has(waiter.key)) continue;
      this.capacityWaiters.splice(i, 1);
      waiter.fail(error);
    }
    for (const batch of [...this.ready, ...(this.open ? [this.open] : [])]) {
      const kept: Pending[] = [];
      for (const item of batch.items) {
        if (!keys.has(item.record.key)) {
          kept.push(item);
          continue;
        }
        batch.bytes -= item.bytes;
        this.release(item.bytes);
        item.reject(error);
      }
      batch.items = kept;
    }
    const nonEmpty = this.ready.filter((b) => b.items.length > 0);
    this.ready.splice(0, this.ready.length, ...nonEmpty);
    if (this.open && this.open.items.length === 0) {
      this.open = null;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    }
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.sending > 0 || this.ready.length > 0 || this.open || this.inflightBytes > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async send(batch: Batch): Promise<void> {
    const { metrics, producer } = this.opts;
    const stop = metrics?.produceLatency.startTimer();
    let receipts: KafkaReceipt[] | undefined;
    let error: Error | undefined;
    try {
      receipts = await producer.send(batch.items.map((i) => i.record));
      if (receipts.length !== batch.items.length) {
        throw new KafkaPublishError(
          `Producer returned ${receipts.length} receipts for ${batch.items.length} records`,
        );
      }
    } catch (err) {
      error =
        err instanceof KafkaPublishError
          ? err
          : new KafkaPublishError(`Kafka produce failed: ${(err as Error)?.message ?? err}`, {
              retriable: true,
              cause: err,
            });
    }
    stop?.();
    metrics?.produceBatchSize.observe(batch.items.length);
    for (const item of batch.items) this.release(item.bytes);
    if (error || !receipts) {
      this.failures += 1;
      this.lastError = error;
      metrics?.publishFailures.inc({ stage: 'kafka' }, batch.items.length);
      this.opts.logger?.debug({ err: error, records: batch.items.length }, 'Kafka batch failed');
      const failure = error ?? new KafkaPublishError('no receipts');
      if (this.opts.orderedKeys) {
        const keys = new Set(batch.items.map((i) => i.record.key));
        for (const listener of this.keyFailureListeners) listener(keys);
        this.failQueued(keys, failure);
      }
      for (const item of batch.items) item.reject(failure);
      return;
    }
    this.failures = 0;
    this.lastError = undefined;
    batch.items.forEach((item, i) => {
      const receipt = receipts[i]!;
      metrics?.eventsPublished.inc({ topic: receipt.topic });
      item.resolve(receipt);
    });
  }
}

/** Approximate wire size of a record: key, value and headers. */
export function recordBytes(record: EventRecord): number {
  let n = Buffer.byteLength(record.key) + Buffer.byteLength(record.value);
  for (const [k, v] of Object.entries(record.headers))
    n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

import type { Redis } from 'ioredis';

/** Options of {@link ReplicaBarrier}. */
export interface ReplicaBarrierOptions {
  /**
   * The connection that made the writes to wait for: `WAIT` counts the writes of the client it
   * runs on.
   */
  redis: Redis;
  /** A key in the slot of those writes: on Redis Cluster the `WAIT` goes to that slot's master. */
  slotKey: string;
  /** Replicas that must have acknowledged the writes. */
  replicas: number;
  /** How long one `WAIT` may block, ms. */
  timeoutMs: number;
  /**
   * Fewer replicas acknowledged in time (`acked`), or the `WAIT` failed (`err`). The writes go on
   * anyway: the barrier narrows the window that a failover can lose, it does not stop the
   * pipeline when a replica is away.
   */
  onShort?: (acked: number | undefined, err?: unknown) => void;
  /** After a short `WAIT`, pass without waiting for this long, ms. @defaultValue 1000 */
  backOffMs?: number;
}

/**
 * Waits until the writes a connection made are on `replicas` replicas (Redis `WAIT`), shared by
 * every caller of one turn of the event loop: one `WAIT` for a whole batch of admissions. Callers
 * are released in the order they asked, across batches too (one connection answers in order).
 */
export class ReplicaBarrier {
  private pending: Promise<void> | undefined;
  private last: Promise<void> = Promise.resolve();
  private passUntil = 0;

  constructor(private readonly o: ReplicaBarrierOptions) {}

  /**
   * Resolves once every write the connection made before this call has reached the replicas, or
   * the `WAIT` came back short; never rejects.
   */
  passed(): Promise<void> {
    // While replicas are known to be missing, do not pay the timeout on every batch; still
    // release after the callers of a WAIT already sent, to keep their order.
    if (Date.now() < this.passUntil) return this.last;
    if (!this.pending) {
      this.pending = new Promise<void>((resolve) => {
        // After the current I/O callbacks: every admission answered in this read of the socket
        // joins the same WAIT.
        setImmediate(() => {
          this.pending = undefined;
          void this.wait().finally(resolve);
        });
      });
      this.last = this.pending;
    }
    return this.pending;
  }

  private async wait(): Promise<void> {
    const { redis, slotKey, replicas, timeoutMs } = this.o;
    try {
      // A pipeline with a key of the slot goes to that slot's master on Redis Cluster; the key
      // is only read. On one Redis it is one round trip like a bare WAIT.
      const replies = await redis.pipeline().exists(slotKey).wait(replicas, timeoutMs).exec();
      const [err, acked] = replies?.[1] ?? [new Error('WAIT got no reply'), undefined];
      if (err) throw err;
      if (Number(acked) < replicas) this.short(Number(acked));
    } catch (err) {
      this.short(undefined, err);
    }
  }

  private short(acked: number | undefined, err?: unknown): void {
    this.passUntil = Date.now() + (this.o.backOffMs ?? 1000);
    this.o.onShort?.(acked, err);
  }
}

import { EventEmitter } from 'node:events';
import { safeEmitError, withTimeout } from '../async.js';
import type { OwnershipScripts } from './ownership-scripts.js';
import type { StreamLease } from './stream-lease.js';

/** Options of {@link LockExtender}. */
export interface LockExtenderOptions {
  /** Lock TTL in ms (the client passes `config.ownership.lockTtlMs`). */
  lockTtlMs: number;
  /** Renewal period in ms (the client passes `config.ownership.extendIntervalMs`). */
  extendIntervalMs: number;
}

/** Why a lease was given up by the extender. */
export type LostReason = 'refused' | 'unconfirmed';

/** Events of {@link LockExtender}. */
export interface LockExtenderEvents {
  /** Redis refused the renewal (`refused`), or no renewal succeeded for a whole TTL (`unconfirmed`). */
  lost: [lease: StreamLease, reason: LostReason];
  /** Renewals that succeeded in one round. */
  renewed: [count: number];
  /** A renewal round failed (network, Redis); the leases stay tracked until they are unconfirmed. */
  error: [err: Error];
}

interface Tracked {
  lease: StreamLease;
  /** When the lock was last known to be ours (local clock). */
  confirmedAt: number;
}

/**
 * Renews the locks of every owned stream in one pipeline per round, modelled on BullMQ's
 * `LockManager`: a timer chain that never overlaps, results reported as events, nothing thrown
 * into the void. A refused renewal ends the lease at once. A failed round (Redis unreachable) keeps
 * the leases until the last confirmed renewal is a TTL old: the lock may still be ours until then,
 * and every state change is fenced anyway, so continuing is safe; after that it is surely gone.
 */
export class LockExtender extends EventEmitter<LockExtenderEvents> {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly scripts: OwnershipScripts,
    private readonly opts: LockExtenderOptions,
  ) {
    super();
  }

  /** Start the renewal timer. */
  start(): void {
    if (!this.closed && !this.timer) this.schedule();
  }

  /** Renew this lease from now on. */
  track(lease: StreamLease): void {
    this.tracked.set(lease.stream, { lease, confirmedAt: Date.now() });
  }

  /** Stop renewing a stream's lease. */
  untrack(stream: string): void {
    this.tracked.delete(stream);
  }

  /** Number of leases renewed. */
  get size(): number {
    return this.tracked.size;
  }

  /** Stop the timer; tracked leases are forgotten (their locks simply expire unless released). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.tracked.clear();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.round().finally(() => {
        if (!this.closed) this.schedule();
      });
    }, this.opts.extendIntervalMs);
  }

  /** One renewal round over every tracked lease. Never rejects. */
  async round(): Promise<void> {
    const batch = [...this.tracked.values()];
    if (batch.length === 0) return;
    const now = Date.now();
    // A process that was stopped (SIGSTOP, long GC) must not trust a lock it last confirmed more
    // than a TTL ago, even before asking Redis.
    const live = batch.filter((t) => {
      if (now - t.confirmedAt < this.opts.lockTtlMs) return true;
      this.lose(t, 'unconfirmed');
      return false;
    });
    if (live.length === 0) return;
    try {
      const results = await withTimeout(
        this.scripts.extendMany(
          live.map((t) => t.lease),
          this.opts.lockTtlMs,
        ),
        this.opts.lockTtlMs,
        `lock renewal timed out after ${this.opts.lockTtlMs} ms`,
      );
      let renewed = 0;
      let firstError: Error | undefined;
      live.forEach((t, i) => {
        const result = results[i] ?? new Error('no reply');
        if (this.tracked.get(t.lease.stream) !== t) return; // untracked meanwhile
        if (result instanceof Error) {
          firstError ??= result;
          if (Date.now() - t.confirmedAt >= this.opts.lockTtlMs) this.lose(t, 'unconfirmed');
        } else if (result === 'renewed') {
          t.confirmedAt = now;
          renewed += 1;
        } else {
          this.lose(t, 'refused');
        }
      });
      if (firstError) this.emitError(firstError);
      if (renewed > 0) this.emit('renewed', renewed);
    } catch (err) {
      this.emitError(err);
      for (const t of live) {
        if (
          this.tracked.get(t.lease.stream) === t &&
          Date.now() - t.confirmedAt >= this.opts.lockTtlMs
        ) {
          this.lose(t, 'unconfirmed');
        }
      }
    }
  }

  private lose(t: Tracked, reason: LostReason): void {
    this.tracked.delete(t.lease.stream);
    try {
      this.emit('lost', t.lease, reason);
    } catch (err) {
      this.emitError(err);
    }
  }

  private emitError(err: unknown): void {
    // An 'error' event without a listener would throw; a background loop must not.
    safeEmitError(this, err);
  }
}

import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { ClaimReason, ClaimResult } from './claim-queue.js';
import { readLbsInfo, type LbsEntry, type StreamInfo } from './lbs.js';
import type { NotificationSink } from './notifications.js';
import type { OwnershipScripts } from './ownership-scripts.js';
import { StreamLease } from './stream-lease.js';

/** The renewals a {@link LeaseHolder} starts and stops (the client's `LockExtender`). */
export interface LeaseRenewals {
  track(lease: StreamLease): void;
  untrack(stream: string): void;
}

/** What a {@link LeaseHolder} works with. */
export interface LeaseHolderDeps {
  /** Consumer id of the owner. */
  id: string;
  service: string;
  redis: Redis;
  scripts: OwnershipScripts;
  renewals: LeaseRenewals;
  notifier: NotificationSink;
  lockTtlMs: number;
  logger: Logger;
  metrics?: DualstreamMetrics;
  /** False while the client closes: a stream acquired then is kept for the hand-off, not renewed. */
  isRunning: () => boolean;
}

/** Result of {@link LeaseHolder.acquire}; `owned` also says which LBS entry is recorded. */
export type AcquireResult = ClaimResult & { recordedLbsId?: string };

/**
 * The leases a client holds: taking a stream (the acquire script, then renewals and the
 * announcement), losing one (disowned: its signal fires, StreamDisowned) and forgetting one
 * (done, handed off, closed).
 */
export class LeaseHolder {
  private readonly owned = new Map<string, StreamLease>();

  constructor(private readonly deps: LeaseHolderDeps) {}

  /** Number of streams held. */
  get size(): number {
    return this.owned.size;
  }

  /** Names of the streams held. */
  streams(): string[] {
    return [...this.owned.keys()];
  }

  /** Every lease held. */
  leases(): StreamLease[] {
    return [...this.owned.values()];
  }

  /** The lease of a held stream. */
  get(stream: string): StreamLease | undefined {
    return this.owned.get(stream);
  }

  /**
   * Run the acquire script (lock first, then XCLAIM) and, when it succeeds, start renewing and
   * announce the stream. `reason` `fresh` means a new LBS entry (StreamAdded).
   */
  async acquire(
    stream: string,
    lbsId: string,
    reason: ClaimReason | 'fresh',
    known?: LbsEntry,
  ): Promise<AcquireResult> {
    const reply = await this.deps.scripts.acquire(stream, this.deps.id, this.deps.lockTtlMs, lbsId);
    if (reply.outcome === 'owned') {
      const owner = reply.holderToken.slice(reply.holderToken.indexOf('|') + 1);
      this.count('owned');
      return {
        outcome: 'owned',
        stream,
        owner,
        note: `already owned by ${owner}`,
        recordedLbsId: reply.recordedLbsId,
      };
    }
    if (reply.outcome === 'done') {
      this.count('done');
      return { outcome: 'done', stream, note: `finished by doneStream (LBS entry ${reply.lbsId})` };
    }
    if (reply.outcome === 'gone') {
      this.count('gone');
      return {
        outcome: 'gone',
        stream,
        note: `LBS entry ${reply.lbsId || '(unknown)'} is no longer pending`,
      };
    }
    const { token, lbsId: claimedLbsId } = reply;
    const info: StreamInfo =
      known?.info ?? (await readLbsInfo(this.deps.redis, this.deps.service, claimedLbsId));
    const lease = new StreamLease({
      redis: this.deps.redis,
      scripts: this.deps.scripts,
      stream,
      lbsId: claimedLbsId,
      info,
      token,
      owner: this.deps.id,
    });
    const previous = this.owned.get(stream);
    // Our older lease lost its lock before we claimed the stream again: that lease is dead.
    if (previous) this.disown(previous, 'lock lost before this client claimed the stream again');
    this.owned.set(stream, lease);
    this.deps.metrics?.streamsOwned.inc();
    if (!this.deps.isRunning()) {
      // Closing meanwhile: keep it owned (not renewed) so the hand-off gives it straight back.
      return { outcome: 'claimed', stream, owner: this.deps.id, fence: lease.fence };
    }
    this.deps.renewals.track(lease);
    if (reason === 'fresh') {
      this.deps.notifier.publish({ type: 'StreamAdded', stream, lbsId: claimedLbsId, info, lease });
      return { outcome: 'claimed', stream, owner: this.deps.id, fence: lease.fence };
    }
    const failoverMs =
      reply.previousExpiryMs === undefined
        ? undefined
        : Math.max(0, reply.nowMs - reply.previousExpiryMs);
    if (failoverMs !== undefined) this.deps.metrics?.failoverSeconds.observe(failoverMs / 1000);
    this.count('claimed');
    this.deps.logger.info({ stream, reason, fence: lease.fence, failoverMs }, 'claimed stream');
    const failover = failoverMs === undefined ? {} : { failoverMs };
    this.deps.notifier.publish({
      type: 'StreamClaimed',
      stream,
      lbsId: claimedLbsId,
      info,
      lease,
      reason,
      ...failover,
    });
    return { outcome: 'claimed', stream, owner: this.deps.id, fence: lease.fence, ...failover };
  }

  /** Lose a stream: stop renewing, fire the lease's signal, announce StreamDisowned. */
  disown(lease: StreamLease, reason: string): void {
    if (this.owned.get(lease.stream) !== lease) return;
    this.forget(lease, reason);
    this.deps.logger.warn({ stream: lease.stream, reason, fence: lease.fence }, 'stream disowned');
    this.deps.notifier.publish({ type: 'StreamDisowned', stream: lease.stream, reason });
  }

  /** Let a stream go without announcing it (done, handed off, closed): its signal fires. */
  forget(lease: StreamLease, reason: string): void {
    if (this.owned.get(lease.stream) === lease) {
      this.owned.delete(lease.stream);
      this.deps.metrics?.streamsOwned.dec();
    }
    this.deps.renewals.untrack(lease.stream);
    lease.end(reason);
  }

  private count(outcome: string): void {
    this.deps.metrics?.ownershipClaims.inc({ outcome });
  }
}

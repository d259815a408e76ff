import type { Redis } from 'ioredis';
import { FencingError } from '../errors.js';
import type { StreamInfo } from './lbs.js';
import type { OwnershipScripts } from './ownership-scripts.js';

/** What a {@link StreamLease} is built from. */
export interface StreamLeaseInit {
  redis: Redis;
  /** The fenced scripts of the lease's service. */
  scripts: OwnershipScripts;
  stream: string;
  lbsId: string;
  info: StreamInfo;
  /** Lock value `<fence>|<owner>`; every fenced script compares it. */
  token: string;
  /** Consumer name of the owner (the client id). */
  owner: string;
}

/**
 * Proof of ownership of one data stream: the fencing token plus an `AbortSignal` that fires the
 * moment the stream is disowned, released or done. Every state change made through a lease is
 * checked against the token inside Redis, so a lease kept by a stalled process that was replaced
 * is refused with {@link FencingError}, even if the process never noticed.
 */
export class StreamLease {
  readonly stream: string;
  readonly lbsId: string;
  readonly info: StreamInfo;
  readonly token: string;
  readonly owner: string;
  /** The fencing token's generation: grows by one with every new owner of the stream. */
  readonly fence: number;
  private readonly redis: Redis;
  private readonly scripts: OwnershipScripts;
  private readonly lock: string;
  private readonly controller = new AbortController();

  constructor(init: StreamLeaseInit) {
    this.redis = init.redis;
    this.scripts = init.scripts;
    this.stream = init.stream;
    this.lbsId = init.lbsId;
    this.info = init.info;
    this.token = init.token;
    this.owner = init.owner;
    this.fence = Number(init.token.slice(0, init.token.indexOf('|')));
    this.lock = init.scripts.lockKey(init.stream);
  }

  /** Fires when this process must stop all work on the stream; `reason` says why. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the lease was ended locally (disowned, released or done). */
  get ended(): boolean {
    return this.controller.signal.aborted;
  }

  /** @internal Called by the client when ownership ends. */
  end(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /**
   * Throws {@link FencingError} unless Redis still holds this lease's token. Always asks Redis:
   * check {@link ended} first for the cheap local answer.
   */
  async assertOwner(): Promise<void> {
    const holder = await this.redis.get(this.lock);
    if (holder !== this.token) throw new FencingError(this.stream);
  }

  /**
   * XACK entries of the data stream in consumer group `group`, atomically checked against the
   * token. Returns how many were acknowledged; throws {@link FencingError} when not the owner.
   */
  async ack(group: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.scripts.ack(this, group, ids);
  }

  /**
   * Move every pending entry of `group` on the data stream to this owner, so it can re-read what
   * a previous owner read but never acknowledged. Fenced. Returns the number of entries moved.
   */
  async takeOver(group: string, batch = 1000): Promise<number> {
    let cursor = '0-0';
    let total = 0;
    do {
      const step = await this.scripts.takeover(this, group, this.owner, cursor, batch);
      total += step.moved;
      cursor = step.cursor;
    } while (cursor !== '0-0');
    return total;
  }
}

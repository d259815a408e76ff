import type { Redis } from 'ioredis';
import { FencingError } from '../errors.js';
import { ScriptSet, type LoadedScript } from '../redis-scripts.js';
import { asPipelineReply } from '../redis.js';
import { lbsGroup, lbsKey, lockKey, metaKey } from './keys.js';

/**
 * The Lua scripts of stream ownership, in `scripts/*.lua` next to this module (the build copies
 * the folder to `dist/ownership/scripts`). The file name carries the key count.
 */
const SCRIPT_FILES = {
  acquire: 'acquire-3.lua',
  extend: 'extend-2.lua',
  release: 'release-2.lua',
  doneStream: 'done-stream-3.lua',
  ack: 'ack-2.lua',
  takeover: 'takeover-2.lua',
  // Redis Cluster: acquire and doneStream in two steps (the LBS is in another slot).
  lock: 'lock-2.lua',
  finish: 'finish-2.lua',
} as const;

/** Name of one ownership script. */
export type OwnershipScriptName = keyof typeof SCRIPT_FILES;

const scripts = new ScriptSet<OwnershipScriptName>(
  new URL('./scripts/', import.meta.url),
  SCRIPT_FILES,
  'dsOwnership',
);

/** Read (once) and return every script with its key count parsed from the file name. */
export function loadOwnershipScripts(): Record<OwnershipScriptName, LoadedScript> {
  return scripts.load();
}

/** The acquire script's verdict (see `scripts/acquire-3.lua`). */
export type AcquireReply =
  | {
      outcome: 'acquired';
      /** Lock value `<fence>|<owner>`. */
      token: string;
      /** The LBS entry claimed for the new owner. */
      lbsId: string;
      /** When the previous lock of the stream expired or was released (ms), if it had one. */
      previousExpiryMs?: number;
      /** Redis time of the acquisition (ms). */
      nowMs: number;
    }
  | { outcome: 'owned'; holderToken: string; recordedLbsId: string }
  | { outcome: 'done'; lbsId: string }
  | { outcome: 'gone'; lbsId: string };

/** A lock held by this process: the stream and its fencing token. */
export interface HeldLock {
  stream: string;
  token: string;
}

/** Outcome of one renewal in {@link OwnershipScripts.extendMany}. */
export type ExtendOutcome = 'renewed' | 'refused' | Error;

/**
 * One typed method per ownership script: each builds its keys and arguments from the service and
 * the stream, decodes the reply, and turns a fencing refusal into {@link FencingError} where the
 * caller cannot go on. No caller assembles KEYS/ARGV by hand. The Lua files document each
 * script's contract.
 *
 * On Redis Cluster (`cluster`), per-stream keys take the cluster layout of `keys.ts`; a script
 * touches one slot only, so acquire and doneStream run in two steps (the stream's keys, then the
 * LBS), and many locks are renewed or released with one call each instead of one pipeline.
 */
export class OwnershipScripts {
  constructor(
    private readonly redis: Redis,
    readonly service: string,
    readonly cluster = false,
  ) {
    scripts.define(redis);
  }

  /** The lock key of `stream` in this layout. */
  lockKey(stream: string): string {
    return lockKey(this.service, stream, this.cluster);
  }

  /** The meta key of `stream` in this layout. */
  metaKey(stream: string): string {
    return metaKey(this.service, stream, this.cluster);
  }

  /**
   * Take a stream: lock it with a new fencing token (owner `owner`, TTL `lockTtlMs`), then XCLAIM
   * its LBS entry `lbsId` (`''`: the entry recorded in the stream's meta) for the owner.
   */
  async acquire(
    stream: string,
    owner: string,
    lockTtlMs: number,
    lbsId: string,
  ): Promise<AcquireReply> {
    const s = this.service;
    if (this.cluster) return this.acquireOnCluster(stream, owner, lockTtlMs, lbsId);
    const reply = (await scripts.run(
      this.redis,
      'acquire',
      [lockKey(s, stream), metaKey(s, stream), lbsKey(s)],
      [owner, lockTtlMs, lbsGroup(s), lbsId],
    )) as unknown[];
    return acquireReply(reply, 'acquired');
  }

  /** {@link acquire} on Redis Cluster: lock on the stream's slot, then XCLAIM in the LBS. */
  private async acquireOnCluster(
    stream: string,
    owner: string,
    lockTtlMs: number,
    lbsId: string,
  ): Promise<AcquireReply> {
    const s = this.service;
    const locked = acquireReply(
      (await scripts.run(
        this.redis,
        'lock',
        [this.lockKey(stream), this.metaKey(stream)],
        [owner, lockTtlMs, lbsId],
      )) as unknown[],
      'locked',
    );
    if (locked.outcome === 'done') {
      // Finished, but the LBS step of doneStream may not have run (a crash between the steps).
      await this.finishLbsEntry(locked.lbsId);
      return locked;
    }
    if (locked.outcome !== 'acquired') return locked;
    const lock = { stream, token: locked.token };
    let claimed: unknown[];
    try {
      claimed = (await this.redis.call('XCLAIM', [
        lbsKey(s),
        lbsGroup(s),
        owner,
        0,
        locked.lbsId,
        'JUSTID',
      ])) as unknown[];
    } catch (err) {
      // Do not keep a lock nobody will renew: let the next claim come at once.
      await this.releaseMany([lock]).catch(() => undefined);
      throw err;
    }
    if (claimed.length === 0) {
      await this.releaseMany([lock]);
      return { outcome: 'gone', lbsId: locked.lbsId };
    }
    return locked;
  }

  /** XACK and XDEL one LBS entry (idempotent). */
  private async finishLbsEntry(lbsId: string): Promise<void> {
    const s = this.service;
    const replies = await this.redis
      .pipeline()
      .xack(lbsKey(s), lbsGroup(s), lbsId)
      .xdel(lbsKey(s), lbsId)
      .exec();
    const failed = replies?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /**
   * Renew many locks in one pipeline (TTL `lockTtlMs`): per lock `renewed`, `refused` (the token
   * no longer holds it) or the error of its command.
   */
  async extendMany(locks: readonly HeldLock[], lockTtlMs: number): Promise<ExtendOutcome[]> {
    const replies = await this.perLock('extend', locks, [lockTtlMs]);
    return replies.map(([err, res]) => {
      if (err) return err;
      return Number(res) === 1 ? 'renewed' : 'refused';
    });
  }

  /**
   * Release many locks in one pipeline (recording the release time as their expiry); per lock,
   * whether it was still held by its token and is now released.
   */
  async releaseMany(locks: readonly HeldLock[]): Promise<boolean[]> {
    if (locks.length === 0) return [];
    const replies = await this.perLock('release', locks, []);
    return replies.map(([err, res]) => !err && Number(res) === 1);
  }

  /**
   * Finish a stream for good: XACK and XDEL its LBS entry and release the lock, fenced. Throws
   * {@link FencingError} when `token` no longer holds the lock.
   */
  async doneStream(lock: HeldLock, lbsId: string): Promise<void> {
    const s = this.service;
    const ok = Number(
      this.cluster
        ? await scripts.run(
            this.redis,
            'finish',
            [this.lockKey(lock.stream), this.metaKey(lock.stream)],
            [lock.token, lbsId],
          )
        : await scripts.run(
            this.redis,
            'doneStream',
            [lockKey(s, lock.stream), metaKey(s, lock.stream), lbsKey(s)],
            [lock.token, lbsGroup(s), lbsId],
          ),
    );
    if (ok !== 1) throw new FencingError(lock.stream);
    if (this.cluster) await this.finishLbsEntry(lbsId);
  }

  /**
   * XACK entries of the data stream in consumer group `group`, fenced. Returns how many were
   * acknowledged; throws {@link FencingError} when `token` no longer holds the lock.
   */
  async ack(lock: HeldLock, group: string, ids: readonly string[]): Promise<number> {
    const n = Number(
      await scripts.run(
        this.redis,
        'ack',
        [this.lockKey(lock.stream), lock.stream],
        [lock.token, group, ...ids],
      ),
    );
    if (n < 0) throw new FencingError(lock.stream);
    return n;
  }

  /**
   * Move up to `batch` pending entries of `group` on the data stream, after `cursor`, to consumer
   * `owner`, fenced. Returns how many moved and the next cursor (`0-0` when done); throws
   * {@link FencingError} when `token` no longer holds the lock.
   */
  async takeover(
    lock: HeldLock,
    group: string,
    owner: string,
    cursor: string,
    batch: number,
  ): Promise<{ moved: number; cursor: string }> {
    const res = (await scripts.run(
      this.redis,
      'takeover',
      [this.lockKey(lock.stream), lock.stream],
      [lock.token, group, owner, cursor, batch],
    )) as [number, string];
    const moved = Number(res[0]);
    if (moved < 0) throw new FencingError(lock.stream);
    return { moved, cursor: String(res[1]) };
  }

  /**
   * Run a two-key lock script (lock key, meta key; ARGV token then `args`) for every lock in one
   * pipeline; one `[error, reply]` per lock, in order.
   */
  private async perLock(
    name: 'extend' | 'release',
    locks: readonly HeldLock[],
    args: Array<string | number>,
  ): Promise<Array<[Error | null, unknown]>> {
    if (this.cluster) {
      // Keys of many slots: one call each (the Cluster client batches them per node).
      return Promise.all(
        locks.map((l) =>
          asPipelineReply(
            scripts.run(
              this.redis,
              name,
              [this.lockKey(l.stream), this.metaKey(l.stream)],
              [l.token, ...args],
            ),
          ),
        ),
      );
    }
    const pipeline = this.redis.pipeline();
    for (const l of locks) {
      void scripts.run(
        pipeline,
        name,
        [this.lockKey(l.stream), this.metaKey(l.stream)],
        [l.token, ...args],
      );
    }
    const results = await pipeline.exec();
    return locks.map((_, i) => results?.[i] ?? [new Error('no reply'), null]);
  }
}

/** Decode an acquire (or, on a cluster, lock) reply; `success` is the script's word for it. */
function acquireReply(reply: unknown[], success: 'acquired' | 'locked'): AcquireReply {
  const [outcome = '', a = '', b = '', c = '', d = ''] = reply.map(String);
  if (outcome === success) {
    const previous = Number(c);
    return {
      outcome: 'acquired',
      token: a,
      lbsId: b,
      ...(c !== '' && Number.isFinite(previous) ? { previousExpiryMs: previous } : {}),
      nowMs: Number(d),
    };
  }
  if (outcome === 'owned') return { outcome, holderToken: a, recordedLbsId: b };
  if (outcome === 'done') return { outcome, lbsId: a };
  return { outcome: 'gone', lbsId: a };
}

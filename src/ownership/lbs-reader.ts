import type { Redis } from 'ioredis';
import { Backoff, sleep } from '../async.js';
import type { Logger } from '../logger.js';
import { ensureGroup } from '../redis.js';
import type { ClaimResult } from './claim-queue.js';
import { lbsGroup, lbsKey } from './keys.js';
import { parseLbsEntry, type LbsEntry } from './lbs.js';
import { parseGroupConsumers, streamReply } from './stream-reply.js';

/** What takes the streams the reader is delivered: the client. */
export interface FreshStreamTaker {
  /** Consumer name in the LBS group. */
  readonly id: string;
  /** Number of streams owned now. */
  readonly ownedCount: number;
  /**
   * Lock a stream delivered fresh from the LBS and announce it. An `owned` result carries the
   * LBS entry recorded for the stream, so a second registration of it can be told apart.
   */
  takeFresh(entry: LbsEntry): Promise<ClaimResult & { recordedLbsId?: string }>;
}

/** What an {@link LbsReader} is built from. */
export interface LbsReaderOptions {
  service: string;
  /** Connection of the blocking XREADGROUP, used for nothing else (closing it unblocks). */
  connection: Redis;
  /** Connection of the short commands (XACK, XDEL, XINFO, group creation). */
  redis: Redis;
  /** BLOCK time of the read. */
  blockMs: number;
  /** Stop taking new streams while owning this many. */
  maxStreams: number;
  /** Let other live clients take new streams first while this one is ahead of its share. */
  fairShare: boolean;
  logger: Logger;
  onError: (err: unknown) => void;
}

/** Pause of a client that is ahead of its fair share, before it reads the LBS again. */
const FAIR_YIELD_MS = 20;
/** Consecutive pauses at most, so an entry nobody else takes waits no longer than ~0.2 s. */
const MAX_FAIR_YIELDS = 10;

/**
 * Reads new streams from the load-balancer stream through its consumer group, one entry per call
 * so that live clients share them round robin, and hands each to the {@link FreshStreamTaker}.
 */
export class LbsReader {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: LbsReaderOptions) {}

  /** Start reading for `taker`. */
  start(taker: FreshStreamTaker): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.read(taker);
  }

  /** Stop at once: the blocked read is cut by closing its connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.opts.connection.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private async read(taker: FreshStreamTaker): Promise<void> {
    const { opts } = this;
    const key = lbsKey(opts.service);
    const group = lbsGroup(opts.service);
    const backoff = new Backoff({ initialMs: 100, maxMs: 2000 });
    let yielded = 0;
    while (this.running) {
      if (taker.ownedCount >= opts.maxStreams) {
        await sleep(opts.blockMs);
        continue;
      }
      try {
        // A client that got ahead (a busier CPU elsewhere, a later start) lets the others take the
        // next entries first, a bounded number of times in a row, so no entry waits long.
        if (yielded < MAX_FAIR_YIELDS && (await this.aheadOfFairShare(taker))) {
          yielded += 1;
          await sleep(FAIR_YIELD_MS);
          continue;
        }
        yielded = 0;
        const reply = await opts.connection.call('XREADGROUP', [
          'GROUP',
          group,
          taker.id,
          'COUNT',
          1,
          'BLOCK',
          opts.blockMs,
          'STREAMS',
          key,
          '>',
        ]);
        backoff.reset();
        for (const [, entries] of streamReply(reply)) {
          for (const [lbsId, fields] of entries) await this.take(taker, lbsId, fields);
        }
      } catch (err) {
        if (!this.running) return;
        if (String(err).includes('NOGROUP')) {
          await ensureGroup(opts.redis, key, group).catch(() => undefined);
        } else {
          opts.onError(err);
        }
        await sleep(backoff.next());
      }
    }
  }

  /**
   * Whether the taker owns more than its share of the streams held by the live consumers of the
   * LBS group (consumers that read within the last two LBS block periods).
   */
  private async aheadOfFairShare(taker: FreshStreamTaker): Promise<boolean> {
    const { opts } = this;
    if (!opts.fairShare || taker.ownedCount === 0) return false;
    const consumers = parseGroupConsumers(
      await opts.redis.call('XINFO', ['CONSUMERS', lbsKey(opts.service), lbsGroup(opts.service)]),
    );
    const window = 2 * opts.blockMs + 1000;
    const live = consumers.filter((c) => c.name === taker.id || c.idle <= window);
    if (live.length <= 1) return false;
    const total = live.reduce((sum, c) => sum + c.pending, 0);
    return taker.ownedCount > Math.ceil(total / live.length);
  }

  /** A fresh LBS entry was delivered: hand it to the taker, drop it when unusable or a duplicate. */
  private async take(
    taker: FreshStreamTaker,
    lbsId: string,
    fields: string[] | null,
  ): Promise<void> {
    const { redis, service } = this.opts;
    let entry: LbsEntry;
    try {
      entry = parseLbsEntry(lbsId, fields);
    } catch (err) {
      // Unusable forever: acknowledge so it does not stay pending, keep it in the stream to inspect.
      this.opts.onError(err);
      await redis.xack(lbsKey(service), lbsGroup(service), lbsId);
      return;
    }
    const result = await taker.takeFresh(entry);
    if (result.outcome === 'owned' && result.recordedLbsId !== lbsId) {
      // The same data stream registered twice while owned: the newer entry is a duplicate.
      this.opts.logger.info(
        { stream: entry.stream, lbsId, owner: result.owner },
        'duplicate LBS registration dropped',
      );
      await redis
        .pipeline()
        .xack(lbsKey(service), lbsGroup(service), lbsId)
        .xdel(lbsKey(service), lbsId)
        .exec();
    }
  }
}

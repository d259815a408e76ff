import type { Redis } from 'ioredis';
import { asPipelineReply } from '../redis.js';
import { lbsGroup, lbsKey, lockKey, metaKey } from './keys.js';
import { parseLbsEntry, type LbsEntry } from './lbs.js';

/** A registered stream whose LBS entry is pending while its lock is gone. */
export interface Orphan {
  stream: string;
  lbsId: string;
  /** Generation of the lock that ended (0 when the stream was never locked). */
  fence: number;
}

/**
 * One batch of the sweep: look at up to `count` pending LBS entries idle for at least `minIdleMs`,
 * starting after `cursor`, and return those whose lock is gone (and that are not done), plus the
 * cursor for the next batch (`undefined` when the scan is complete). Read-only, safe to repeat.
 *
 * Entries with a live lock are never returned, however long they have been pending. Entries idle
 * for less than a TTL are skipped: such an entry was just read by a consumer that is locking it
 * right now, or was locked less than a TTL ago, so its lock cannot have expired.
 */
export async function findOrphans(
  redis: Redis,
  service: string,
  opts: {
    minIdleMs: number;
    cursor?: string;
    count: number;
    /**
     * Redis Cluster: the cluster key layout, one call per key instead of a pipeline, and entries
     * marked done but still pending count too (doneStream's LBS step did not run; their claim
     * finishes them).
     */
    cluster?: boolean;
  },
): Promise<{ scanned: number; orphans: Orphan[]; cursor: string | undefined }> {
  const key = lbsKey(service);
  const start = opts.cursor === undefined ? '-' : `(${opts.cursor}`;
  const pending = (await redis.call('XPENDING', [
    key,
    lbsGroup(service),
    'IDLE',
    opts.minIdleMs,
    start,
    '+',
    opts.count,
  ])) as Array<[string, string, number, number]>;
  if (pending.length === 0) return { scanned: 0, orphans: [], cursor: undefined };

  const ranges = redis.pipeline();
  for (const [id] of pending) ranges.xrange(key, id, id);
  const entries: LbsEntry[] = [];
  for (const [, res] of (await ranges.exec()) ?? []) {
    const found = (res as Array<[string, string[]]> | null)?.[0];
    if (!found) continue;
    try {
      entries.push(parseLbsEntry(found[0], found[1]));
    } catch {
      // Malformed entries are reported and acknowledged when first read.
    }
  }

  // Read the generation before checking the lock: a lock seen absent afterwards proves that this
  // generation's lock is gone, so a claim job id of (stream, generation) is meaningful.
  const cluster = opts.cluster ?? false;
  const results = cluster
    ? await checkEachOnCluster(redis, service, entries)
    : ((await entries
        .reduce(
          (p, e) =>
            p
              .hmget(metaKey(service, e.stream), 'fence', 'doneId')
              .exists(lockKey(service, e.stream)),
          redis.pipeline(),
        )
        .exec()) ?? []);
  const orphans: Orphan[] = [];
  entries.forEach((e, i) => {
    const meta = results[2 * i];
    const lock = results[2 * i + 1];
    if (!meta || !lock || meta[0] || lock[0]) return;
    const [fence, doneId] = meta[1] as [string | null, string | null];
    if (Number(lock[1]) === 1 || (doneId === e.lbsId && !cluster)) return;
    orphans.push({ stream: e.stream, lbsId: e.lbsId, fence: Number(fence ?? 0) });
  });
  const last = pending[pending.length - 1];
  return {
    scanned: pending.length,
    orphans,
    cursor: pending.length < opts.count || !last ? undefined : last[0],
  };
}

/** The meta and lock reads of {@link findOrphans} on Redis Cluster, in its reply shape. */
async function checkEachOnCluster(
  redis: Redis,
  service: string,
  entries: LbsEntry[],
): Promise<Array<[Error | null, unknown]>> {
  const out: Array<Promise<[Error | null, unknown]>> = [];
  for (const e of entries) {
    let meta: string;
    let lock: string;
    try {
      meta = metaKey(service, e.stream, true);
      lock = lockKey(service, e.stream, true);
    } catch (err) {
      // A name that cannot be owned on a cluster: its claim would fail the same way.
      out.push(Promise.resolve([err as Error, null]), Promise.resolve([err as Error, null]));
      continue;
    }
    out.push(
      asPipelineReply(redis.hmget(meta, 'fence', 'doneId')),
      asPipelineReply(redis.exists(lock)),
    );
  }
  return Promise.all(out);
}

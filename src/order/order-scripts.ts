import type { Redis } from 'ioredis';
import { DualstreamError } from '../errors.js';
import { ScriptSet } from '../redis-scripts.js';
import type { OrderKeys } from './keys.js';

const scripts = new ScriptSet(
  new URL('./scripts/', import.meta.url),
  {
    index: 'index-5.lua',
    admit: 'admit-11.lua',
    resolve: 'resolve-11.lua',
    revoke: 'revoke-2.lua',
    failed: 'failed-11.lua',
    unpark: 'unpark-8.lua',
  },
  'dsOrder',
);

/** What a job that failed for good does to its source. */
export type OrderFailurePolicy = 'continue' | 'block';

/** The admit script's verdict (see `scripts/admit-11.lua`). */
export type AdmitReply =
  | { kind: 'go'; seq: number; source: string }
  | { kind: 'inflight' | 'pending'; blocker: string; source: string; live: boolean }
  | { kind: 'held'; blocker: string; source: string }
  | { kind: 'unindexed' };

/** Stream entries read at most per call of the index script. */
const READ_AT_MOST = 1000;
/** When the head of a source moves, at most this many next jobs of it are looked at. */
const PROMOTE_AT_MOST = 256;

/**
 * One typed method per order script: each builds its keys and arguments and decodes the reply,
 * so no caller assembles KEYS/ARGV by hand. The Lua files document each script's contract.
 */
export class OrderScripts {
  constructor(
    private readonly redis: Redis,
    private readonly keys: OrderKeys,
  ) {
    scripts.define(redis);
  }

  /**
   * Read new `added` entries of the queue's events stream (or resync from the lists) on
   * `connection`, which must not be in use by a blocking read at the time.
   */
  async index(connection: Redis): Promise<{ read: number; resynced: boolean; cursor: string }> {
    scripts.define(connection);
    const k = this.keys;
    const [read, resynced, cursor] = (await scripts.run(
      connection,
      'index',
      [k.events, k.cursor, k.index, k.wait, k.active],
      [k.jobPrefix, k.sourceListPrefix, READ_AT_MOST],
    )) as [number, number, string];
    return { read, resynced: resynced === 1, cursor };
  }

  /**
   * Ask whether the job may be written now. The returned promise is the script's own reply
   * promise with one `then`, the same for every call, so replies settle in the order they were
   * asked for.
   */
  admit(jobId: string, processId: string, policy: OrderFailurePolicy): Promise<AdmitReply> {
    const k = this.keys;
    return scripts
      .run(
        this.redis,
        'admit',
        [
          k.events,
          k.cursor,
          k.index,
          k.wait,
          k.active,
          k.adm,
          k.seq,
          k.waiting,
          k.failed,
          k.held,
          k.parked,
        ],
        [k.jobPrefix, k.sourceListPrefix, jobId, processId, policy, READ_AT_MOST],
      )
      .then(parseAdmit);
  }

  /** The job is written (and notified): pop what is done from its source's head. */
  async resolve(jobId: string): Promise<number> {
    const k = this.keys;
    return Number(
      await scripts.run(
        this.redis,
        'resolve',
        [k.index, k.adm, k.seq, k.waiting, k.held, ...this.promoteKeys()],
        [k.sourceListPrefix, jobId, k.wakeChannel, k.jobPrefix, PROMOTE_AT_MOST],
      ),
    );
  }

  /**
   * Withdraw `processId`'s admissions of each source from a job on; `pairs` alternates source
   * and first job id. Queued on the connection at once (callers rely on its place in line).
   */
  revoke(processId: string, pairs: string[]): Promise<number> {
    const k = this.keys;
    return scripts
      .run(this.redis, 'revoke', [k.index, k.adm], [k.sourceListPrefix, processId, ...pairs])
      .then(Number);
  }

  /** A job failed for good: skip it (`continue`) or hold its source (`block`). */
  async failed(jobId: string, policy: OrderFailurePolicy): Promise<'skipped' | 'held' | ''> {
    const k = this.keys;
    const reply = await scripts.run(
      this.redis,
      'failed',
      [k.index, k.adm, k.held, k.waiting, k.failed, ...this.promoteKeys()],
      [k.sourceListPrefix, jobId, policy, k.wakeChannel, k.jobPrefix, PROMOTE_AT_MOST],
    );
    return String(reply) as 'skipped' | 'held' | '';
  }

  /** A job just parked because of `blocker`: promote it at once if the blocker moved meanwhile. */
  async unpark(jobId: string, blocker: string): Promise<boolean> {
    const k = this.keys;
    const reply = await scripts.run(
      this.redis,
      'unpark',
      [k.index, k.adm, k.parked, k.delayed, k.wait, k.marker, k.meta, k.events],
      [k.sourceListPrefix, jobId, blocker, k.jobPrefix],
    );
    return Number(reply) === 1;
  }

  private promoteKeys(): string[] {
    const k = this.keys;
    return [k.parked, k.delayed, k.wait, k.marker, k.meta, k.events];
  }
}

function parseAdmit(raw: unknown): AdmitReply {
  const [kind, a, b, live] = (Array.isArray(raw) ? raw : []) as [
    string?,
    string?,
    string?,
    unknown?,
  ];
  if (kind === 'go') return { kind, seq: Number(a), source: String(b) };
  if (kind === 'inflight' || kind === 'pending') {
    return { kind, blocker: String(a), source: String(b), live: Number(live) === 1 };
  }
  if (kind === 'held') return { kind, blocker: String(a), source: String(b) };
  if (kind === 'unindexed') return { kind };
  throw new DualstreamError(`Unexpected reply from the order admit script: ${String(raw)}`);
}

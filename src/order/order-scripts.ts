import type { Redis } from 'ioredis';
import { TickBatcher } from '../async.js';
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
/** Jobs per call of the admit and resolve scripts (a larger batch is split into several calls). */
const BATCH_AT_MOST = 128;

/**
 * One typed method per order script: each builds its keys and arguments and decodes the reply,
 * so no caller assembles KEYS/ARGV by hand. The Lua files document each script's contract.
 */
export class OrderScripts {
  private readonly admissions: TickBatcher<string, AdmitReply>;
  private readonly resolutions: TickBatcher<string, number>;

  /**
   * @param owner - this process's id in admissions and its policy on jobs that failed for good
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: OrderKeys,
    owner: { processId: string; policy: OrderFailurePolicy },
  ) {
    scripts.define(redis);
    const k = keys;
    // Every job of a turn of the event loop shares one call: the scripts run per job in order,
    // exactly as separate calls on this connection would, for one round trip and one reply.
    const perJobCall = <R>(
      name: 'admit' | 'resolve',
      keyList: string[],
      args: Array<string | number>,
      parse: (reply: unknown) => R,
    ) =>
      new TickBatcher<string, R>({
        maxItems: BATCH_AT_MOST,
        run: async (jobIds) =>
          perJob(
            await scripts.run(this.redis, name, keyList, [...args, ...jobIds]),
            jobIds.length,
            parse,
          ),
      });
    this.admissions = perJobCall(
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
      [k.jobPrefix, k.sourceListPrefix, owner.processId, owner.policy, READ_AT_MOST],
      parseAdmit,
    );
    this.resolutions = perJobCall(
      'resolve',
      [k.index, k.adm, k.seq, k.waiting, k.held, ...this.promoteKeys()],
      [k.sourceListPrefix, k.wakeChannel, k.jobPrefix, PROMOTE_AT_MOST],
      Number,
    );
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
   * Ask whether the job may be written now. Asked together with the other jobs of this turn of
   * the event loop (one script call); replies settle in the order they were asked for.
   */
  admit(jobId: string): Promise<AdmitReply> {
    return this.admissions.add(jobId);
  }

  /**
   * The job is written (and notified): pop what is done from its source's head. Returns how many
   * jobs were popped, or -1 when the job was not admitted.
   */
  resolve(jobId: string): Promise<number> {
    return this.resolutions.add(jobId);
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

/** One reply per job of a batched script call, each decoded by `parse` (or an error). */
function perJob<R>(raw: unknown, count: number, parse: (reply: unknown) => R): Array<R | Error> {
  if (!Array.isArray(raw) || raw.length !== count) {
    throw new DualstreamError(`Unexpected reply from an order script: ${String(raw)}`);
  }
  return raw.map((reply: unknown) => {
    try {
      return parse(reply);
    } catch (err) {
      return err as Error;
    }
  });
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
  if (kind === 'error') throw new DualstreamError(`Order admit failed: ${String(a)}`);
  throw new DualstreamError(`Unexpected reply from the order admit script: ${String(raw)}`);
}

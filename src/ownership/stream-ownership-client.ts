import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Backoff, safeEmitError, sleep } from '../async.js';
import type { DualstreamConfig } from '../config/index.js';
import { FencingError, OwnershipError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { createRedis, ensureGroup } from '../redis.js';
import {
  SWEEP_SCHEDULER_ID,
  claimJobId,
  lbsGroup,
  lbsKey,
  metaKey,
  ownershipQueueName,
  streamOfLockKey,
} from './keys.js';
import { KeyspaceListener, enableExpiredEvents, type KeyspaceSetup } from './keyspace-listener.js';
import { findOrphans } from './find-orphans.js';
import { parseLbsEntry, type LbsEntry, type StreamInfo } from './lbs.js';
import { LockExtender } from './lock-extender.js';
import { NotificationStream } from './notification-stream.js';
import { OwnershipScripts } from './ownership-scripts.js';
import { StreamLease } from './stream-lease.js';
import { parseGroupConsumers, streamReply } from './stream-reply.js';

/** Why a claim job was enqueued. */
export type ClaimReason = 'expired' | 'sweep' | 'handoff' | 'manual';

/** Data of a claim job on the ownership queue. */
export interface ClaimJobData {
  stream: string;
  /** LBS entry id of the stream, when known. */
  lbsId?: string;
  /** Generation of the lock that ended (part of the job id, deduplicates claims). */
  fence: number;
  reason: ClaimReason;
}

/** Return value of a claim job, shown in Bull Board. */
export type ClaimResult =
  | { outcome: 'claimed'; stream: string; owner: string; fence: number; failoverMs?: number }
  | { outcome: 'owned'; stream: string; owner: string; note: string }
  | { outcome: 'done'; stream: string; note: string }
  | { outcome: 'gone'; stream: string; note: string };

/** Return value of a sweep job. */
export interface SweepResult {
  /** Pending LBS entries looked at. */
  scanned: number;
  /** Claims enqueued for streams whose lock is gone. */
  enqueued: number;
}

/** A new stream from the LBS, now owned (locked) by this client. */
export interface StreamAddedNotification {
  type: 'StreamAdded';
  stream: string;
  lbsId: string;
  info: StreamInfo;
  lease: StreamLease;
}
/** A stream taken over from a crashed, stalled or departing owner. */
export interface StreamClaimedNotification {
  type: 'StreamClaimed';
  stream: string;
  lbsId: string;
  info: StreamInfo;
  lease: StreamLease;
  reason: ClaimReason;
  /** Time from the previous lock's expiry (or release) to this claim. */
  failoverMs?: number;
}
/** Some owner's lock expired (seen by every client); a claim job has been enqueued. */
export interface StreamExpiredNotification {
  type: 'StreamExpired';
  stream: string;
}
/** This client lost a stream; all work on it must stop (its lease's signal has fired). */
export interface StreamDisownedNotification {
  type: 'StreamDisowned';
  stream: string;
  reason: string;
}

/** Every notification of the client, as yielded by the iterator from {@link StreamOwnershipClient.init}. */
export type OwnershipNotification =
  | StreamAddedNotification
  | StreamClaimedNotification
  | StreamExpiredNotification
  | StreamDisownedNotification;

/** Typed events of {@link StreamOwnershipClient}. */
export interface StreamOwnershipEvents {
  StreamAdded: [n: StreamAddedNotification];
  StreamClaimed: [n: StreamClaimedNotification];
  StreamExpired: [n: StreamExpiredNotification];
  StreamDisowned: [n: StreamDisownedNotification];
  /** Errors of background loops (LBS reader, renewals, listener, claim worker). */
  error: [err: Error];
}

/** Options of {@link StreamOwnershipClient}; everything else comes from the config. */
export interface StreamOwnershipClientOptions {
  /**
   * Consumer id, unique per process incarnation.
   * @defaultValue `<hostname>-<pid>-<8 random hex>`
   */
  id?: string;
  logger?: Logger;
  metrics?: DualstreamMetrics;
  /** Claim jobs processed at once by this client's ownership worker. @defaultValue 16 */
  claimConcurrency?: number;
  /**
   * Stop taking new streams from the LBS while owning this many (claims are still taken, so no
   * stream is left orphaned). @defaultValue Infinity
   */
  maxStreams?: number;
  /**
   * Let other live clients take new streams first while this one owns more than its share of the
   * streams held by live consumers (balances a burst of registrations across processes that run at
   * different speeds). @defaultValue true
   */
  fairShare?: boolean;
  /** BLOCK time of the LBS read; also bounds how long `done()` waits for it. @defaultValue 1000 ms */
  lbsBlockMs?: number;
  /** Subscribe to expired-key events (false: sweep only). @defaultValue true */
  keyspaceEvents?: boolean;
  /** Run the ownership worker (claims and sweeps) in this client. @defaultValue true */
  runWorker?: boolean;
  /** Notifications buffered for the iterator before the oldest are dropped. @defaultValue 10 000 */
  maxBufferedNotifications?: number;
}

/** Default consumer id: host, pid and randomness, so a restarted process never reuses one. */
export function defaultConsumerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Owns data streams registered in the load-balancer stream (LBS) and hands them over on crash,
 * stall or shutdown: the TypeScript successor of redis-stream-client-go's client.
 *
 * New streams are taken one at a time from the LBS consumer group (so live clients share them
 * round robin), each under a lock with a fencing token renewed every `extendIntervalMs`. Expired
 * locks (keyspace events) and orphaned LBS entries (the periodic sweep) become claim jobs on the
 * BullMQ queue `<service>-ownership`, which the worker of some live client takes: it acquires the
 * lock first, then XCLAIMs the LBS entry.
 */
export class StreamOwnershipClient extends EventEmitter<StreamOwnershipEvents> {
  /** Consumer id of this client in the LBS group and in lock values. */
  readonly id: string;
  /** The service name (`<service>-input`, `<service>-group`, ...). */
  readonly service: string;
  /** How keyspace notifications were set up by `init()`. */
  keyspace: KeyspaceSetup | 'disabled' | undefined;

  private readonly config: DualstreamConfig;
  private readonly logger: Logger;
  private readonly metrics: DualstreamMetrics | undefined;
  private readonly opts: Required<
    Pick<
      StreamOwnershipClientOptions,
      | 'claimConcurrency'
      | 'maxStreams'
      | 'fairShare'
      | 'lbsBlockMs'
      | 'keyspaceEvents'
      | 'runWorker'
      | 'maxBufferedNotifications'
    >
  >;
  private readonly redis: Redis;
  private readonly scripts: OwnershipScripts;
  private readonly lbsReader: Redis;
  private readonly bullConnection: Redis;
  private subscriber: Redis | undefined;
  private listener: KeyspaceListener | undefined;
  private readonly extender: LockExtender;
  private queue: Queue<ClaimJobData, ClaimResult | SweepResult> | undefined;
  private worker: Worker<ClaimJobData, ClaimResult | SweepResult> | undefined;
  private readonly owned = new Map<string, StreamLease>();
  private readonly streams = new Set<NotificationStream<OwnershipNotification>>();
  private readerLoop: Promise<void> | undefined;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';

  constructor(config: DualstreamConfig, options: StreamOwnershipClientOptions = {}) {
    super();
    this.config = config;
    this.service = config.ownership.service;
    this.id = options.id ?? defaultConsumerId();
    this.logger = (options.logger ?? silentLogger()).child({
      ownership: this.service,
      consumer: this.id,
    });
    this.metrics = options.metrics;
    this.opts = {
      claimConcurrency: options.claimConcurrency ?? 16,
      maxStreams: options.maxStreams ?? Infinity,
      fairShare: options.fairShare ?? true,
      lbsBlockMs: options.lbsBlockMs ?? 1000,
      keyspaceEvents: options.keyspaceEvents ?? true,
      runWorker: options.runWorker ?? true,
      maxBufferedNotifications: options.maxBufferedNotifications ?? 10_000,
    };
    this.redis = createRedis(config.redis.url, { name: `${this.service}-ownership` });
    this.lbsReader = createRedis(config.redis.url, { name: `${this.service}-lbs`, blocking: true });
    this.bullConnection = createRedis(config.redis.url, {
      name: `${this.service}-claims`,
      blocking: true,
    });
    for (const conn of [this.redis, this.lbsReader, this.bullConnection]) {
      // ioredis logs unhandled 'error' events to stderr; reconnects are handled by createRedis.
      conn.on('error', (err: Error) => this.logger.debug({ err }, 'redis connection error'));
    }
    this.scripts = new OwnershipScripts(this.redis, this.service);
    this.extender = new LockExtender(this.scripts, {
      lockTtlMs: config.ownership.lockTtlMs,
      extendIntervalMs: config.ownership.extendIntervalMs,
    });
    this.extender.on('lost', (lease, reason) =>
      this.disown(
        lease,
        reason === 'refused' ? 'lock renewal refused' : 'lock renewal unconfirmed for a TTL',
      ),
    );
    this.extender.on('error', (err) => this.emitError(err));
  }

  /** Streams owned right now. */
  get ownedStreams(): string[] {
    return [...this.owned.keys()];
  }

  /** The current lease of an owned stream. */
  lease(stream: string): StreamLease | undefined {
    return this.owned.get(stream);
  }

  /**
   * Start: create the LBS group, enable and subscribe to expired-key events, start the claim
   * worker and the sweep scheduler, then take streams from the LBS. Resolves to an async iterator
   * of notifications (buffered from this moment; also emitted as typed events). Call `return()` on
   * it (or `break` out of `for await`) when you only use the events.
   */
  async init(): Promise<AsyncIterableIterator<OwnershipNotification>> {
    if (this.state !== 'new') throw new OwnershipError('init() may be called once');
    this.state = 'running';
    const stream = new NotificationStream<OwnershipNotification>(
      this.opts.maxBufferedNotifications,
    );
    this.streams.add(stream);
    try {
      await ensureGroup(this.redis, lbsKey(this.service), lbsGroup(this.service));
      if (this.opts.keyspaceEvents) {
        this.keyspace = await enableExpiredEvents(this.redis, this.logger);
        this.subscriber = createRedis(this.config.redis.url, { name: `${this.service}-keyspace` });
        this.subscriber.on('error', (err: Error) =>
          this.logger.debug({ err }, 'redis subscriber error'),
        );
        this.listener = new KeyspaceListener(this.subscriber, this.redis.options.db ?? 0);
        this.listener.on('expired', (key) => this.onExpired(key));
        this.listener.on('error', (err) => this.emitError(err));
        await this.listener.start();
      } else {
        this.keyspace = 'disabled';
      }
      const queueName = ownershipQueueName(this.service);
      this.queue = new Queue(queueName, {
        connection: this.bullConnection,
        prefix: this.config.redis.prefix,
      });
      this.queue.on('error', (err) => this.emitError(err));
      await this.queue.upsertJobScheduler(
        SWEEP_SCHEDULER_ID,
        { every: this.config.ownership.sweepIntervalMs },
        {
          name: 'sweep',
          data: { stream: '', fence: 0, reason: 'sweep' },
          opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } },
        },
      );
      if (this.opts.runWorker) {
        this.worker = new Worker(queueName, (job) => this.process(job), {
          connection: this.bullConnection,
          prefix: this.config.redis.prefix,
          concurrency: this.opts.claimConcurrency,
        });
        this.worker.on('error', (err) => this.emitError(err));
      }
      this.extender.start();
      this.readerLoop = this.readLbs();
    } catch (err) {
      await this.close();
      throw err;
    }
    return stream;
  }

  /**
   * Take a stream now (the Go library's `Claim`): acquire its lock, then XCLAIM its LBS entry.
   * Accepts a `StreamExpired` notification. Throws {@link OwnershipError} saying why when the
   * stream is owned by someone else, done, or no longer registered.
   */
  async claim(info: { stream: string; lbsId?: string }): Promise<StreamLease> {
    const result = await this.acquire(info.stream, info.lbsId ?? '', 'manual');
    if (result.outcome !== 'claimed') {
      throw new OwnershipError(`Cannot claim "${info.stream}": ${result.note}`);
    }
    const lease = this.owned.get(info.stream);
    if (!lease) throw new OwnershipError(`Claim of "${info.stream}" ended before it was returned`);
    return lease;
  }

  /**
   * Finish a stream (the Go library's `DoneStream`): XACK and XDEL its LBS entry and release the
   * lock, atomically checked against the fencing token. Throws {@link FencingError} when the
   * stream was lost meanwhile, {@link OwnershipError} when it is not owned here.
   */
  async doneStream(name: string): Promise<void> {
    const lease = this.owned.get(name);
    if (!lease) throw new OwnershipError(`Stream "${name}" is not owned by ${this.id}`);
    try {
      await this.scripts.doneStream(lease, lease.lbsId);
    } catch (err) {
      if (err instanceof FencingError) this.disown(lease, 'fenced at doneStream');
      throw err;
    }
    this.forget(lease, 'done');
  }

  /**
   * Shut down and hand every owned stream off at once: stop taking streams and claims, release
   * each lock and enqueue its claim job, so the other clients take over without waiting for a TTL.
   * Stop reading the streams (abort on the leases' signals) before calling this.
   */
  async done(): Promise<void> {
    await this.close();
  }

  /** Same as {@link done}. */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closing';
    // Unblock the LBS read: a BLOCKed XREADGROUP would otherwise hold done() for lbsBlockMs.
    this.lbsReader.disconnect();
    await this.readerLoop?.catch(() => undefined);
    await this.worker?.close().catch((err: unknown) => this.emitError(err));
    await this.listener?.stop();
    this.extender.close();
    if (wasRunning) await this.handOff().catch((err: unknown) => this.emitError(err));
    for (const lease of this.owned.values()) this.forget(lease, 'closed');
    await this.queue?.close().catch(() => undefined);
    for (const s of this.streams) s.end();
    await Promise.all(
      [this.redis, this.bullConnection, this.subscriber].map((c) =>
        c?.quit().catch(() => c.disconnect()),
      ),
    );
    this.state = 'closed';
  }

  /** Release every owned lock and enqueue its claim (`reason: handoff`). */
  private async handOff(): Promise<void> {
    const leases = [...this.owned.values()];
    if (leases.length === 0 || !this.queue) return;
    for (const lease of leases) lease.end('handoff');
    const results = await this.scripts.releaseMany(leases);
    const released = leases.filter((_, i) => results[i]);
    await this.queue.addBulk(
      released.map((lease) => ({
        name: 'claim',
        data: {
          stream: lease.stream,
          lbsId: lease.lbsId,
          fence: lease.fence,
          reason: 'handoff' as const,
        },
        opts: { jobId: claimJobId(lease.stream, lease.fence), ...CLAIM_JOB_OPTIONS },
      })),
    );
    this.logger.info({ released: released.length, owned: leases.length }, 'handed streams off');
  }

  /** Read new streams from the LBS, one entry per call so that live clients share them fairly. */
  private async readLbs(): Promise<void> {
    const key = lbsKey(this.service);
    const group = lbsGroup(this.service);
    const backoff = new Backoff({ initialMs: 100, maxMs: 2000 });
    let yielded = 0;
    while (this.state === 'running') {
      if (this.owned.size >= this.opts.maxStreams) {
        await sleep(this.opts.lbsBlockMs);
        continue;
      }
      try {
        // A client that got ahead (a busier CPU elsewhere, a later start) lets the others take the
        // next entries first, a bounded number of times in a row, so no entry waits long.
        if (yielded < MAX_FAIR_YIELDS && (await this.aheadOfFairShare())) {
          yielded += 1;
          await sleep(FAIR_YIELD_MS);
          continue;
        }
        yielded = 0;
        const reply = await this.lbsReader.call('XREADGROUP', [
          'GROUP',
          group,
          this.id,
          'COUNT',
          1,
          'BLOCK',
          this.opts.lbsBlockMs,
          'STREAMS',
          key,
          '>',
        ]);
        backoff.reset();
        for (const [, entries] of streamReply(reply)) {
          for (const [lbsId, fields] of entries) await this.takeNew(lbsId, fields);
        }
      } catch (err) {
        if (this.state !== 'running') return;
        if (String(err).includes('NOGROUP')) {
          await ensureGroup(this.redis, key, group).catch(() => undefined);
        } else {
          this.emitError(err);
        }
        await sleep(backoff.next());
      }
    }
  }

  /**
   * Whether this client owns more than its share of the streams held by the live consumers of the
   * LBS group (consumers that read within the last two LBS block periods).
   */
  private async aheadOfFairShare(): Promise<boolean> {
    if (!this.opts.fairShare || this.owned.size === 0) return false;
    const consumers = parseGroupConsumers(
      await this.redis.call('XINFO', ['CONSUMERS', lbsKey(this.service), lbsGroup(this.service)]),
    );
    const window = 2 * this.opts.lbsBlockMs + 1000;
    const live = consumers.filter((c) => c.name === this.id || c.idle <= window);
    if (live.length <= 1) return false;
    const total = live.reduce((sum, c) => sum + c.pending, 0);
    return this.owned.size > Math.ceil(total / live.length);
  }

  /** A fresh LBS entry was delivered to us: lock the stream and announce it. */
  private async takeNew(lbsId: string, fields: string[] | null): Promise<void> {
    let entry: LbsEntry;
    try {
      entry = parseLbsEntry(lbsId, fields);
    } catch (err) {
      // Unusable forever: acknowledge so it does not stay pending, keep it in the stream to inspect.
      this.emitError(err);
      await this.redis.xack(lbsKey(this.service), lbsGroup(this.service), lbsId);
      return;
    }
    const result = await this.acquire(entry.stream, lbsId, 'fresh', entry.info);
    if (result.outcome === 'owned' && result.recordedLbsId !== lbsId) {
      // The same data stream registered twice while owned: the newer entry is a duplicate.
      this.logger.info(
        { stream: entry.stream, lbsId, owner: result.owner },
        'duplicate LBS registration dropped',
      );
      await this.redis
        .pipeline()
        .xack(lbsKey(this.service), lbsGroup(this.service), lbsId)
        .xdel(lbsKey(this.service), lbsId)
        .exec();
    }
  }

  /** The claim job / sweep job processor. */
  private async process(
    job: Job<ClaimJobData, ClaimResult | SweepResult>,
  ): Promise<ClaimResult | SweepResult> {
    if (job.name === 'sweep') return this.sweep();
    const { stream, lbsId, reason } = job.data;
    try {
      return stripInternal(await this.acquire(stream, lbsId ?? '', reason));
    } catch (err) {
      // Thrown on to BullMQ, which retries; the final failure stays visible in Bull Board.
      this.count('failed');
      throw err;
    }
  }

  /**
   * Run the acquire script (lock first, then XCLAIM) and, when it succeeds, start renewing and
   * announce the stream. `reason` `fresh` means a new LBS entry (StreamAdded).
   */
  private async acquire(
    stream: string,
    lbsId: string,
    reason: ClaimReason | 'fresh',
    knownInfo?: StreamInfo,
  ): Promise<ClaimResult & { recordedLbsId?: string }> {
    const reply = await this.scripts.acquire(
      stream,
      this.id,
      this.config.ownership.lockTtlMs,
      lbsId,
    );
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
    const info = knownInfo ?? (await this.readInfo(claimedLbsId));
    const lease = new StreamLease({
      redis: this.redis,
      scripts: this.scripts,
      stream,
      lbsId: claimedLbsId,
      info,
      token,
      owner: this.id,
    });
    const previous = this.owned.get(stream);
    // Our older lease lost its lock before we claimed the stream again: that lease is dead.
    if (previous) this.disown(previous, 'lock lost before this client claimed the stream again');
    if (this.state !== 'running') {
      // Closing meanwhile: give it straight back so the hand-off covers it.
      this.owned.set(stream, lease);
      this.metrics?.streamsOwned.inc();
      return { outcome: 'claimed', stream, owner: this.id, fence: lease.fence };
    }
    this.owned.set(stream, lease);
    this.metrics?.streamsOwned.inc();
    this.extender.track(lease);
    if (reason === 'fresh') {
      this.publish({ type: 'StreamAdded', stream, lbsId: claimedLbsId, info, lease });
      return { outcome: 'claimed', stream, owner: this.id, fence: lease.fence };
    }
    const failoverMs =
      reply.previousExpiryMs === undefined
        ? undefined
        : Math.max(0, reply.nowMs - reply.previousExpiryMs);
    if (failoverMs !== undefined) this.metrics?.failoverSeconds.observe(failoverMs / 1000);
    this.count('claimed');
    this.logger.info({ stream, reason, fence: lease.fence, failoverMs }, 'claimed stream');
    this.publish({
      type: 'StreamClaimed',
      stream,
      lbsId: claimedLbsId,
      info,
      lease,
      reason,
      ...(failoverMs !== undefined ? { failoverMs } : {}),
    });
    return {
      outcome: 'claimed',
      stream,
      owner: this.id,
      fence: lease.fence,
      ...(failoverMs !== undefined ? { failoverMs } : {}),
    };
  }

  /**
   * Find LBS entries that are pending while their lock is gone and enqueue a claim for each (what
   * the sweep job runs). Streams with a live lock are never touched. See {@link findOrphans}.
   */
  async sweep(): Promise<SweepResult> {
    let cursor: string | undefined;
    let scanned = 0;
    let enqueued = 0;
    do {
      const batch = await findOrphans(this.redis, this.service, {
        minIdleMs: this.config.ownership.lockTtlMs,
        count: SWEEP_BATCH,
        ...(cursor === undefined ? {} : { cursor }),
      });
      scanned += batch.scanned;
      cursor = batch.cursor;
      enqueued += await this.enqueueClaims(
        batch.orphans.map((o) => ({ ...o, reason: 'sweep' as const })),
        true,
      );
    } while (cursor !== undefined);
    if (enqueued > 0) this.logger.info({ scanned, enqueued }, 'sweep found orphaned streams');
    return { scanned, enqueued };
  }

  /**
   * Enqueue claim jobs, deduplicated by (stream, generation). With `retryFailed`, a claim job of
   * the same generation that ended failed (e.g. Redis was down) is retried instead of ignored.
   */
  private async enqueueClaims(claims: ClaimJobData[], retryFailed: boolean): Promise<number> {
    if (!this.queue || claims.length === 0) return 0;
    const queue = this.queue;
    if (retryFailed) {
      for (const c of claims) {
        const id = claimJobId(c.stream, c.fence);
        if ((await queue.getJobState(id)) === 'failed') await (await queue.getJob(id))?.retry();
      }
    }
    await queue.addBulk(
      claims.map((data) => ({
        name: 'claim',
        data,
        opts: { jobId: claimJobId(data.stream, data.fence), ...CLAIM_JOB_OPTIONS },
      })),
    );
    return claims.length;
  }

  private onExpired(key: string): void {
    const stream = streamOfLockKey(this.service, key);
    if (stream === undefined || this.state !== 'running') return;
    const mine = this.owned.get(stream);
    if (mine) {
      // Check rather than trust the event: it may be about an older generation that we have
      // already replaced with a fresh claim (pub/sub and replies travel on different sockets).
      mine.assertOwner().catch((err: unknown) => {
        if (err instanceof FencingError) this.disown(mine, 'lock expired');
      });
    }
    this.publish({ type: 'StreamExpired', stream });
    void (async () => {
      const [fence, lbsId] = await this.redis.hmget(
        metaKey(this.service, stream),
        'fence',
        'lbsId',
      );
      await this.enqueueClaims(
        [{ stream, fence: Number(fence ?? 0), reason: 'expired', ...(lbsId ? { lbsId } : {}) }],
        false,
      );
    })().catch((err: unknown) => this.emitError(err));
  }

  private async readInfo(lbsId: string): Promise<StreamInfo> {
    const found = (await this.redis.xrange(lbsKey(this.service), lbsId, lbsId))[0];
    if (!found) return {};
    try {
      return parseLbsEntry(found[0], found[1]).info;
    } catch {
      return {};
    }
  }

  /** Lose a stream: stop renewing, fire the lease's signal, announce StreamDisowned. */
  private disown(lease: StreamLease, reason: string): void {
    if (this.owned.get(lease.stream) !== lease) return;
    this.forget(lease, reason);
    this.logger.warn({ stream: lease.stream, reason, fence: lease.fence }, 'stream disowned');
    this.publish({ type: 'StreamDisowned', stream: lease.stream, reason });
  }

  private forget(lease: StreamLease, reason: string): void {
    if (this.owned.get(lease.stream) === lease) {
      this.owned.delete(lease.stream);
      this.metrics?.streamsOwned.dec();
    }
    this.extender.untrack(lease.stream);
    lease.end(reason);
  }

  /** Ownership loss reported by a user of a lease (e.g. a fenced ack). */
  reportFenced(lease: StreamLease, err: FencingError): void {
    this.disown(lease, err.message);
  }

  private publish(n: OwnershipNotification): void {
    for (const s of this.streams) s.push(n);
    try {
      // The discriminated union maps one-to-one onto the event names.
      (this.emit as (event: string, arg: OwnershipNotification) => boolean)(n.type, n);
    } catch (err) {
      this.logger.error({ err, notification: n.type }, 'a notification listener threw');
    }
  }

  private count(outcome: string): void {
    this.metrics?.ownershipClaims.inc({ outcome });
  }

  private emitError(err: unknown): void {
    safeEmitError(this, err, (e) => this.logger.error({ err: e }, 'ownership background error'));
  }
}

const SWEEP_BATCH = 200;
/** Pause of a client that is ahead of its fair share, before it reads the LBS again. */
const FAIR_YIELD_MS = 20;
/** Consecutive pauses at most, so an entry nobody else takes waits no longer than ~0.2 s. */
const MAX_FAIR_YIELDS = 10;

/** Options of every claim job: short retries, kept long enough to deduplicate a generation. */
const CLAIM_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 200 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600 },
} as const;

function stripInternal(result: ClaimResult & { recordedLbsId?: string }): ClaimResult {
  const { recordedLbsId, ...rest } = result;
  void recordedLbsId;
  return rest as ClaimResult;
}

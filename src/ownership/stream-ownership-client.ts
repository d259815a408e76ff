// Over 300 lines on purpose: this is the client's public surface (the Go library's methods plus
// init/close) and the one place that wires its parts together; each role has its own file.
import { isClusterUrl } from '../config/config.js';
import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import { safeEmitError } from '../async.js';
import type { DualstreamConfig } from '../config/index.js';
import { FencingError, OwnershipError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { createRedis, ensureGroup } from '../redis.js';
import { ClaimQueue, type ClaimResult, type SweepResult } from './claim-queue.js';
import { lbsGroup, lbsKey, streamOfLockKey } from './keys.js';
import { KeyspaceListener, enableExpiredEvents, type KeyspaceSetup } from './keyspace-listener.js';
import { LbsReader } from './lbs-reader.js';
import { LockExtender } from './lock-extender.js';
import {
  OwnershipNotifier,
  type OwnershipNotification,
  type StreamOwnershipEvents,
} from './notifications.js';
import { OwnershipScripts } from './ownership-scripts.js';
import type { StreamLease } from './stream-lease.js';
import { LeaseHolder } from './lease-holder.js';
import { defaultConsumerId, type StreamOwnershipClientOptions } from './client-options.js';

/**
 * Owns data streams registered in the load-balancer stream (LBS) and hands them over on crash,
 * stall or shutdown: the TypeScript successor of redis-stream-client-go's client.
 *
 * New streams are taken one at a time from the LBS consumer group (so live clients share them
 * round robin), each under a lock with a fencing token renewed every `extendIntervalMs`. Expired
 * locks (keyspace events) and orphaned LBS entries (the periodic sweep) become claim jobs on the
 * BullMQ queue `<service>-ownership`, which the worker of some live client takes: it acquires the
 * lock first, then XCLAIMs the LBS entry.
 *
 * This class is the public surface and the owner of the leases; each role is a part behind a
 * narrow interface: {@link LbsReader} (new streams), {@link ClaimQueue} (claims and the sweep),
 * {@link LockExtender} (renewals), {@link OwnershipNotifier} (iterators and events),
 * {@link OwnershipScripts} (every fenced change in Redis).
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
  private readonly opts: Required<
    Pick<
      StreamOwnershipClientOptions,
      'claimConcurrency' | 'keyspaceEvents' | 'runWorker' | 'maxBufferedNotifications'
    >
  >;
  private readonly redis: Redis;
  private readonly bullConnection: Redis;
  private readonly scripts: OwnershipScripts;
  private readonly extender: LockExtender;
  private readonly notifier: OwnershipNotifier;
  private readonly lbs: LbsReader;
  private readonly claims: ClaimQueue;
  private readonly cluster: boolean;
  private readonly subscribers: Redis[] = [];
  private readonly expiryListeners: KeyspaceListener[] = [];
  private readonly leases: LeaseHolder;
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
    this.opts = {
      claimConcurrency: options.claimConcurrency ?? 16,
      keyspaceEvents: options.keyspaceEvents ?? true,
      runWorker: options.runWorker ?? true,
      maxBufferedNotifications: options.maxBufferedNotifications ?? 10_000,
    };
    this.redis = createRedis(config.redis.url, { name: `${this.service}-ownership` });
    const lbsConnection = createRedis(config.redis.url, {
      name: `${this.service}-lbs`,
      blocking: true,
    });
    this.bullConnection = createRedis(config.redis.url, {
      name: `${this.service}-claims`,
      blocking: true,
    });
    for (const conn of [this.redis, lbsConnection, this.bullConnection]) {
      // ioredis logs unhandled 'error' events to stderr; reconnects are handled by createRedis.
      conn.on('error', (err: Error) => this.logger.debug({ err }, 'redis connection error'));
    }
    const onError = (err: unknown) => this.emitError(err);
    // On Redis Cluster: per-stream keys in the stream's slot, scripts on one slot each, expired
    // events from every node (docs/clusters.md).
    const cluster = isClusterUrl(config.redis.url);
    this.cluster = cluster;
    this.scripts = new OwnershipScripts(this.redis, this.service, cluster);
    this.notifier = new OwnershipNotifier(this, this.logger);
    this.extender = new LockExtender(this.scripts, {
      lockTtlMs: config.ownership.lockTtlMs,
      extendIntervalMs: config.ownership.extendIntervalMs,
    });
    this.leases = new LeaseHolder({
      id: this.id,
      service: this.service,
      redis: this.redis,
      scripts: this.scripts,
      renewals: this.extender,
      notifier: this.notifier,
      lockTtlMs: config.ownership.lockTtlMs,
      logger: this.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      isRunning: () => this.state === 'running',
    });
    this.extender.on('lost', (lease, reason) =>
      this.leases.disown(
        lease,
        reason === 'refused' ? 'lock renewal refused' : 'lock renewal unconfirmed for a TTL',
      ),
    );
    this.extender.on('error', onError);
    this.lbs = new LbsReader({
      service: this.service,
      connection: lbsConnection,
      redis: this.redis,
      blockMs: options.lbsBlockMs ?? 1000,
      maxStreams: options.maxStreams ?? Infinity,
      fairShare: options.fairShare ?? true,
      logger: this.logger,
      onError,
    });
    this.claims = new ClaimQueue({
      service: this.service,
      prefix: config.redis.prefix,
      connection: this.bullConnection,
      redis: this.redis,
      lockTtlMs: config.ownership.lockTtlMs,
      sweepIntervalMs: config.ownership.sweepIntervalMs,
      logger: this.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      onError,
      cluster,
    });
  }

  /** Streams owned right now. */
  get ownedStreams(): string[] {
    return this.leases.streams();
  }

  /** The current lease of an owned stream. */
  lease(stream: string): StreamLease | undefined {
    return this.leases.get(stream);
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
    const stream = this.notifier.open(this.opts.maxBufferedNotifications);
    try {
      await ensureGroup(this.redis, lbsKey(this.service), lbsGroup(this.service));
      if (this.opts.keyspaceEvents) {
        await this.listenForExpiries();
      } else {
        this.keyspace = 'disabled';
      }
      await this.claims.start(
        this.opts.runWorker
          ? {
              concurrency: this.opts.claimConcurrency,
              taker: {
                takeClaim: async (s, lbsId, reason) =>
                  stripInternal(await this.leases.acquire(s, lbsId, reason)),
              },
            }
          : undefined,
      );
      this.extender.start();
      const leases = this.leases;
      this.lbs.start({
        id: this.id,
        get ownedCount() {
          return leases.size;
        },
        takeFresh: (entry) => leases.acquire(entry.stream, entry.lbsId, 'fresh', entry),
      });
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
    const result = await this.leases.acquire(info.stream, info.lbsId ?? '', 'manual');
    if (result.outcome !== 'claimed') {
      throw new OwnershipError(`Cannot claim "${info.stream}": ${result.note}`);
    }
    const lease = this.leases.get(info.stream);
    if (!lease) throw new OwnershipError(`Claim of "${info.stream}" ended before it was returned`);
    return lease;
  }

  /**
   * Finish a stream (the Go library's `DoneStream`): XACK and XDEL its LBS entry and release the
   * lock, atomically checked against the fencing token. Throws {@link FencingError} when the
   * stream was lost meanwhile, {@link OwnershipError} when it is not owned here.
   */
  async doneStream(name: string): Promise<void> {
    const lease = this.leases.get(name);
    if (!lease) throw new OwnershipError(`Stream "${name}" is not owned by ${this.id}`);
    try {
      await this.scripts.doneStream(lease, lease.lbsId);
    } catch (err) {
      if (err instanceof FencingError) this.leases.disown(lease, 'fenced at doneStream');
      throw err;
    }
    this.leases.forget(lease, 'done');
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
    await this.lbs.stop();
    await this.claims.stopWorker().catch((err: unknown) => this.emitError(err));
    await Promise.all(this.expiryListeners.map((l) => l.stop()));
    this.extender.close();
    if (wasRunning) await this.handOff().catch((err: unknown) => this.emitError(err));
    for (const lease of this.leases.leases()) this.leases.forget(lease, 'closed');
    await this.claims.close();
    this.notifier.end();
    await Promise.all(
      [this.redis, this.bullConnection, ...this.subscribers].map((c) =>
        c.quit().catch(() => c.disconnect()),
      ),
    );
    this.state = 'closed';
  }

  /**
   * Find LBS entries that are pending while their lock is gone and enqueue a claim for each (what
   * the sweep job runs). Streams with a live lock are never touched.
   */
  async sweep(): Promise<SweepResult> {
    return this.claims.sweep();
  }

  /** Ownership loss reported by a user of a lease (e.g. a fenced ack). */
  reportFenced(lease: StreamLease, err: FencingError): void {
    this.leases.disown(lease, err.message);
  }

  /**
   * Enable expired-key events and subscribe to them. A key expires on the node that holds it, and
   * keyspace events are not sent across a cluster: on Redis Cluster every node known at start
   * (masters, and replicas, which publish them once promoted) gets the setting and a subscriber.
   * A node added later is covered by the sweep alone.
   */
  private async listenForExpiries(): Promise<void> {
    const nodes = this.cluster ? (this.redis as unknown as Cluster).nodes('all') : [this.redis];
    const setups = await Promise.all(nodes.map((n) => enableExpiredEvents(n, this.logger)));
    this.keyspace = setups.includes('refused')
      ? 'refused'
      : setups.includes('enabled')
        ? 'enabled'
        : 'already-enabled';
    for (const node of nodes) {
      const subscriber = this.cluster
        ? node.duplicate({ connectionName: `${this.service}-keyspace` })
        : createRedis(this.config.redis.url, { name: `${this.service}-keyspace` });
      subscriber.on('error', (err: Error) => this.logger.debug({ err }, 'redis subscriber error'));
      this.subscribers.push(subscriber);
      const listener = new KeyspaceListener(subscriber, this.redis.options.db ?? 0);
      listener.on('expired', (key) => this.onExpired(key));
      listener.on('error', (err) => this.emitError(err));
      this.expiryListeners.push(listener);
    }
    await Promise.all(this.expiryListeners.map((l) => l.start()));
  }

  /** Release every owned lock and enqueue its claim (`reason: handoff`). */
  private async handOff(): Promise<void> {
    const leases = this.leases.leases();
    if (leases.length === 0) return;
    for (const lease of leases) lease.end('handoff');
    const results = await this.scripts.releaseMany(leases);
    const released = leases.filter((_, i) => results[i]);
    await this.claims.enqueue(
      released.map((lease) => ({
        stream: lease.stream,
        lbsId: lease.lbsId,
        fence: lease.fence,
        reason: 'handoff' as const,
      })),
      false,
    );
    this.logger.info({ released: released.length, owned: leases.length }, 'handed streams off');
  }

  private onExpired(key: string): void {
    const stream = streamOfLockKey(this.service, key, this.cluster);
    if (stream === undefined || this.state !== 'running') return;
    const mine = this.leases.get(stream);
    if (mine) {
      // Check rather than trust the event: it may be about an older generation that we have
      // already replaced with a fresh claim (pub/sub and replies travel on different sockets).
      mine.assertOwner().catch((err: unknown) => {
        if (err instanceof FencingError) this.leases.disown(mine, 'lock expired');
      });
    }
    this.notifier.publish({ type: 'StreamExpired', stream });
    void (async () => {
      const [fence, lbsId] = await this.redis.hmget(this.scripts.metaKey(stream), 'fence', 'lbsId');
      await this.claims.enqueue(
        [{ stream, fence: Number(fence ?? 0), reason: 'expired', ...(lbsId ? { lbsId } : {}) }],
        false,
      );
    })().catch((err: unknown) => this.emitError(err));
  }

  private emitError(err: unknown): void {
    safeEmitError(this, err, (e) => this.logger.error({ err: e }, 'ownership background error'));
  }
}

function stripInternal(result: ClaimResult & { recordedLbsId?: string }): ClaimResult {
  const { recordedLbsId, ...rest } = result;
  void recordedLbsId;
  return rest as ClaimResult;
}

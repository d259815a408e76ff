import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Backoff, sleep } from '../async.js';
import { isClusterUrl } from '../config/config.js';
import type { DualstreamConfig } from '../config/index.js';
import { FencingError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import {
  StreamOwnershipClient,
  streamReply,
  type StreamEntries,
  type StreamLease,
  type StreamOwnershipClientOptions,
} from '../ownership/index.js';
import { hashTagOf } from '../ownership/keys.js';
import { publishJobOptions } from '../queue/index.js';
import { createRedis, ensureGroup } from '../redis.js';
import { DepthGate } from './depth-gate.js';
import { EntryEnqueuer } from './entry-enqueuer.js';
import { ingestGroup } from './ingest-job.js';

/** Dependencies and options of {@link createIngester}. */
export interface IngesterDeps {
  /** The queue publish jobs go to (`createPublishQueue(config)`). */
  publishQueue: Queue;
  /**
   * Ownership client to use. When omitted the ingester creates one, initializes it in `start()`
   * and hands its streams off in `close()`. An injected client is used as is: call its `done()`
   * yourself after `close()`.
   */
  client?: StreamOwnershipClient;
  /** Options of the client the ingester creates. */
  clientOptions?: StreamOwnershipClientOptions;
  /** Options of every publish job. @defaultValue `publishJobOptions(config)` from the queue module */
  jobOptions?: JobsOptions;
  logger?: Logger;
  metrics?: DualstreamMetrics;
  /** Entries read per stream per call. @defaultValue 100 */
  batchSize?: number;
  /** BLOCK time of the data stream read. @defaultValue 500 ms */
  blockMs?: number;
}

/** A running ingester. */
export interface Ingester {
  /** The ownership client in use. */
  readonly client: StreamOwnershipClient;
  /** Start owning and reading streams. */
  start(): Promise<void>;
  /** Stop reading, finish the batch in hand, then (own client only) hand the streams off. */
  close(): Promise<void>;
}

/**
 * Create the ingester: for every stream the ownership client owns, read the data stream through
 * the consumer group `<service>-ingest` (first the entries a previous owner read but never
 * acknowledged, then new ones), enqueue each entry as a publish job with a stable job id, and
 * XACK only after the enqueue is confirmed, through the fenced ack script.
 *
 * All owned streams are read by one blocking XREADGROUP on one connection, so a process can own
 * thousands of streams without a connection or a timer per stream.
 */
export function createIngester(config: DualstreamConfig, deps: IngesterDeps): Ingester {
  return new StreamIngester(config, deps);
}

/** One owned stream being read. */
interface Reading {
  lease: StreamLease;
  /** `pending`: re-read entries delivered but not acknowledged (id 0); `new`: read with `>`. */
  phase: 'pending' | 'new';
}

/** The two connections of a started ingester. */
interface Connections {
  /** Blocking XREADGROUP of every owned stream. */
  reader: Redis;
  /** Group creation and the other short commands. */
  commands: Redis;
}

/**
 * The ingester's read loop over the owned streams. The parts with their own state live beside
 * it: {@link EntryEnqueuer} turns a batch of entries into publish jobs and acks them (fenced),
 * {@link DepthGate} pauses reading while the publish queue is full.
 */
class StreamIngester implements Ingester {
  readonly client: StreamOwnershipClient;
  private readonly ownClient: boolean;
  private readonly redisUrl: string;
  private readonly cluster: boolean;
  private readonly logger: Logger;
  private readonly group: string;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly enqueuer: EntryEnqueuer;
  private readonly depth: DepthGate;
  private readonly reading = new Map<string, Reading>();
  private readonly retakeTimers = new Set<NodeJS.Timeout>();
  private connections: Connections | undefined;
  private loop: Promise<void> | undefined;
  /** Aborted to end the idle wait at once (a stream was adopted, or close()). */
  private idle = new AbortController();
  private running = false;

  constructor(config: DualstreamConfig, deps: IngesterDeps) {
    this.logger = (deps.logger ?? silentLogger()).child({ part: 'ingester' });
    this.ownClient = deps.client === undefined;
    this.redisUrl = config.redis.url;
    this.cluster = isClusterUrl(config.redis.url);
    this.client =
      deps.client ??
      new StreamOwnershipClient(config, {
        ...deps.clientOptions,
        logger: deps.clientOptions?.logger ?? this.logger,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
      });
    this.group = ingestGroup(config.ownership.service);
    this.batchSize = deps.batchSize ?? 100;
    this.blockMs = deps.blockMs ?? 500;
    this.enqueuer = new EntryEnqueuer({
      publishQueue: deps.publishQueue,
      group: this.group,
      jobOptions: deps.jobOptions ?? publishJobOptions(config),
      maxPayloadBytes: config.events.maxPayloadBytes,
      logger: this.logger,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    this.depth = new DepthGate(deps.publishQueue, config.queue.maxQueueDepth, this.logger);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const service = this.client.service;
    this.connections = {
      reader: createRedis(this.redisUrl, { name: `${service}-ingest`, blocking: true }),
      commands: createRedis(this.redisUrl, { name: `${service}-ingest-cmd` }),
    };
    for (const c of Object.values(this.connections)) {
      c.on('error', (err: Error) => this.logger.debug({ err }, 'redis connection error'));
    }
    this.client.on('StreamAdded', this.onLease);
    this.client.on('StreamClaimed', this.onLease);
    this.client.on('StreamDisowned', this.onDisowned);
    if (this.ownClient) {
      const notifications = await this.client.init();
      // Events drive the ingester; the iterator's buffer is not needed.
      await notifications.return?.();
    }
    for (const stream of this.client.ownedStreams) {
      const lease = this.client.lease(stream);
      if (lease) void this.adopt(lease);
    }
    this.loop = this.run();
  }

  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.retakeTimers) clearTimeout(t);
    this.retakeTimers.clear();
    this.idle.abort();
    // Unblock a BLOCKed read at once; the batch in hand finishes (ack or not) before we go on.
    this.connections?.reader.disconnect();
    await this.loop?.catch(() => undefined);
    this.client.off('StreamAdded', this.onLease);
    this.client.off('StreamClaimed', this.onLease);
    this.client.off('StreamDisowned', this.onDisowned);
    this.reading.clear();
    if (this.ownClient) await this.client.done();
    const commands = this.connections?.commands;
    await commands?.quit().catch(() => commands.disconnect());
  }

  private readonly onLease = (n: { lease: StreamLease }): void => void this.adopt(n.lease);

  private readonly onDisowned = (n: { stream: string }): void => {
    this.reading.delete(n.stream);
  };

  /** Start reading a newly owned stream: its pending entries first. */
  private async adopt(lease: StreamLease): Promise<void> {
    try {
      if (this.connections) await ensureGroup(this.connections.commands, lease.stream, this.group);
      const moved = await lease.takeOver(this.group);
      if (lease.ended) return;
      this.reading.set(lease.stream, { lease, phase: 'pending' });
      this.logger.debug({ stream: lease.stream, moved }, 'reading stream');
      this.idle.abort();
      this.scheduleRetake(lease);
    } catch (err) {
      this.onFailure(lease, err);
    }
  }

  /**
   * A stalled previous owner may still have had a blocking read in flight, which Redis can serve
   * (to the old consumer) up to its BLOCK time after our takeover. Take over once more after that
   * window so no entry is stranded in the old consumer's pending list.
   */
  private scheduleRetake(lease: StreamLease): void {
    const timer = setTimeout(
      () => {
        this.retakeTimers.delete(timer);
        void lease
          .takeOver(this.group)
          .then((n) => {
            const r = this.reading.get(lease.stream);
            if (n > 0 && r?.lease === lease) r.phase = 'pending';
          })
          .catch((err: unknown) => this.onFailure(lease, err));
      },
      2 * this.blockMs + 500,
    );
    this.retakeTimers.add(timer);
  }

  private onFailure(lease: StreamLease, err: unknown): void {
    if (err instanceof FencingError) {
      this.client.reportFenced(lease, err);
      this.reading.delete(lease.stream);
      return;
    }
    const r = this.reading.get(lease.stream);
    if (r?.lease === lease) r.phase = 'pending';
    this.logger.warn({ err, stream: lease.stream }, 'ingest batch failed; will re-read');
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 200 });
    while (this.running) {
      for (const [stream, r] of this.reading) if (r.lease.ended) this.reading.delete(stream);
      if (this.reading.size === 0) {
        this.idle = new AbortController();
        await sleep(this.blockMs, { signal: this.idle.signal });
        continue;
      }
      if (await this.depth.paused()) continue;
      try {
        await this.readRound();
        backoff.reset();
      } catch (err) {
        if (!this.running) return;
        await this.onReadError(err);
        await sleep(backoff.next());
      }
    }
  }

  /** Pending re-reads first; then new entries, blocking only when nothing else was waiting. */
  private async readRound(): Promise<void> {
    const all = [...this.reading.values()];
    const pending = all.filter((r) => r.phase === 'pending');
    let got = 0;
    if (pending.length > 0) got += await this.readAndEnqueue(pending, '0', false);
    const fresh = [...this.reading.values()].filter((r) => r.phase === 'new');
    if (fresh.length > 0) {
      await this.readAndEnqueue(fresh, '>', got === 0 && pending.length === 0);
    }
  }

  private async onReadError(err: unknown): Promise<void> {
    if (!String(err).includes('NOGROUP')) {
      this.logger.warn({ err }, 'data stream read failed');
      return;
    }
    // A data stream was deleted under us: recreate the groups (and empty streams).
    const commands = this.connections?.commands;
    if (!commands) return;
    await Promise.all(
      [...this.reading.values()].map((r) =>
        ensureGroup(commands, r.lease.stream, this.group).catch(() => undefined),
      ),
    );
  }

  /** One XREADGROUP over `batch`; each stream's entries are enqueued. Returns entries read. */
  private async readAndEnqueue(batch: Reading[], id: '0' | '>', block: boolean): Promise<number> {
    const reader = this.connections?.reader;
    if (!reader) return 0;
    const byStream = new Map(await this.read(reader, batch, id, block));
    let total = 0;
    await Promise.all(
      batch.map(async (r) => {
        const entries: StreamEntries = byStream.get(r.lease.stream) ?? [];
        if (id === '0' && entries.length === 0) r.phase = 'new';
        total += entries.length;
        if (entries.length === 0) return;
        try {
          await this.enqueuer.enqueue(r.lease, entries);
        } catch (err) {
          this.onFailure(r.lease, err);
        }
      }),
    );
    return total;
  }

  /**
   * XREADGROUP of the streams of `batch`. On Redis Cluster one command may only name keys of one
   * slot: streams are grouped by hash tag (a name without one is its own group), and with more
   * than one group each is read without blocking, in parallel, and an empty round waits
   * {@link CLUSTER_POLL_MS} (or until a stream is adopted) instead of blocking.
   */
  private async read(
    reader: Redis,
    batch: Reading[],
    id: '0' | '>',
    block: boolean,
  ): Promise<Array<[string, StreamEntries]>> {
    const xread = async (streams: string[], blockMs: number | undefined) => {
      const args: Array<string | number> = ['GROUP', this.group, this.client.id];
      args.push('COUNT', this.batchSize);
      if (blockMs !== undefined) args.push('BLOCK', blockMs);
      args.push('STREAMS', ...streams, ...streams.map(() => id));
      return streamReply(await reader.call('XREADGROUP', args));
    };
    const streams = batch.map((r) => r.lease.stream);
    if (!this.cluster) return xread(streams, block ? this.blockMs : undefined);
    const groups = new Map<string, string[]>();
    for (const stream of streams) {
      const tag = hashTagOf(stream) ?? stream;
      groups.set(tag, [...(groups.get(tag) ?? []), stream]);
    }
    if (groups.size === 1) return xread(streams, block ? this.blockMs : undefined);
    const replies = (
      await Promise.all([...groups.values()].map((g) => xread(g, undefined)))
    ).flat();
    if (block && replies.every(([, entries]) => entries.length === 0)) {
      this.idle = new AbortController();
      await sleep(Math.min(CLUSTER_POLL_MS, this.blockMs), { signal: this.idle.signal });
    }
    return replies;
  }
}

/** How long an ingester on Redis Cluster waits after a round that read nothing. */
const CLUSTER_POLL_MS = 50;

import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import { FencingError } from '../errors.js';
import { RateLimitedLog, silentLogger, type Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { sleep } from '../async.js';
import { createRedis, ensureGroup } from '../redis.js';
import { publishJobOptions } from '../queue/index.js';
import { entryToPublishJob } from './ingest-job.js';
import { ingestGroup } from './keys.js';
import {
  StreamOwnershipClient,
  type StreamOwnershipClientOptions,
} from './stream-ownership-client.js';
import type { StreamLease } from './stream-lease.js';
import { streamReply } from './stream-reply.js';

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

interface Reading {
  lease: StreamLease;
  /** `pending`: re-read entries delivered but not acknowledged (id 0); `new`: read with `>`. */
  phase: 'pending' | 'new';
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
  const logger = (deps.logger ?? silentLogger()).child({ part: 'ingester' });
  const ownClient = deps.client === undefined;
  const client =
    deps.client ??
    new StreamOwnershipClient(config, {
      ...deps.clientOptions,
      logger: deps.clientOptions?.logger ?? logger,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
  const group = ingestGroup(config.ownership.service);
  const jobOptions = deps.jobOptions ?? publishJobOptions(config);
  const batchSize = deps.batchSize ?? 100;
  const blockMs = deps.blockMs ?? 500;
  const rejectedLog = new RateLimitedLog(logger);
  const reading = new Map<string, Reading>();
  const timers = new Set<NodeJS.Timeout>();
  let conn: Redis | undefined;
  let cmd: Redis | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let depthCheckedAt = 0;

  const onLease = (n: { lease: StreamLease }) => void adopt(n.lease);
  const onDisowned = (n: { stream: string }) => {
    reading.delete(n.stream);
  };

  async function adopt(lease: StreamLease): Promise<void> {
    try {
      if (cmd) await ensureGroup(cmd, lease.stream, group);
      const moved = await lease.takeOver(group);
      if (lease.ended) return;
      reading.set(lease.stream, { lease, phase: 'pending' });
      logger.debug({ stream: lease.stream, moved }, 'reading stream');
      wake?.();
      // A stalled previous owner may still have had a blocking read in flight, which Redis can
      // serve (to the old consumer) up to its BLOCK time after our takeover. Take over once more
      // after that window so no entry is stranded in the old consumer's pending list.
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          void lease
            .takeOver(group)
            .then((n) => {
              const r = reading.get(lease.stream);
              if (n > 0 && r?.lease === lease) r.phase = 'pending';
            })
            .catch((err: unknown) => onFailure(lease, err));
        },
        2 * blockMs + 500,
      );
      timers.add(timer);
    } catch (err) {
      onFailure(lease, err);
    }
  }

  function onFailure(lease: StreamLease, err: unknown): void {
    if (err instanceof FencingError) {
      client.reportFenced(lease, err);
      reading.delete(lease.stream);
      return;
    }
    const r = reading.get(lease.stream);
    if (r?.lease === lease) r.phase = 'pending';
    logger.warn({ err, stream: lease.stream }, 'ingest batch failed; will re-read');
  }

  async function run(): Promise<void> {
    while (running) {
      for (const [stream, r] of reading) if (r.lease.ended) reading.delete(stream);
      if (reading.size === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, blockMs);
        });
        wake = undefined;
        continue;
      }
      if (await overDepth()) continue;
      try {
        const pending = [...reading.values()].filter((r) => r.phase === 'pending');
        let got = 0;
        if (pending.length > 0) got += await readAndProcess(pending, '0', false);
        const fresh = [...reading.values()].filter((r) => r.phase === 'new');
        // Block only when nothing else is waiting, so pending re-reads never wait on new data.
        if (fresh.length > 0) await readAndProcess(fresh, '>', got === 0 && pending.length === 0);
      } catch (err) {
        if (!running) return;
        if (String(err).includes('NOGROUP')) {
          // A data stream was deleted under us: recreate the groups (and empty streams).
          await Promise.all(
            [...reading.values()].map((r) =>
              (cmd ? ensureGroup(cmd, r.lease.stream, group) : Promise.resolve()).catch(
                () => undefined,
              ),
            ),
          );
        } else {
          logger.warn({ err }, 'data stream read failed');
        }
        await sleep(200);
      }
    }
  }

  async function readAndProcess(batch: Reading[], id: '0' | '>', block: boolean): Promise<number> {
    if (!conn) return 0;
    const args: Array<string | number> = ['GROUP', group, client.id, 'COUNT', batchSize];
    if (block) args.push('BLOCK', blockMs);
    args.push('STREAMS', ...batch.map((r) => r.lease.stream), ...batch.map(() => id));
    const byStream = new Map(streamReply(await conn.call('XREADGROUP', args)));
    let total = 0;
    await Promise.all(
      batch.map(async (r) => {
        const entries = byStream.get(r.lease.stream) ?? [];
        if (id === '0' && entries.length === 0) r.phase = 'new';
        total += entries.length;
        if (entries.length > 0) await processEntries(r, entries);
      }),
    );
    return total;
  }

  async function processEntries(
    r: Reading,
    entries: Array<[string, string[] | null]>,
  ): Promise<void> {
    const { lease } = r;
    // Disowned while the read was in flight: drop the batch, the new owner re-reads it.
    if (lease.ended) return;
    try {
      const jobs = [];
      for (const [entryId, fields] of entries) {
        // A null entry was deleted from the stream after delivery: nothing to publish, just ack.
        if (fields === null) continue;
        const spec = entryToPublishJob(lease.stream, entryId, fields, {
          maxPayloadBytes: config.events.maxPayloadBytes,
        });
        if (spec.invalid) {
          deps.metrics?.eventsRejected.inc({ entry: 'ingest' });
          rejectedLog.warn(
            'invalid',
            { stream: lease.stream, entryId, jobId: spec.jobId, reason: spec.invalid },
            'invalid event enqueued anyway: the publish worker fails it visibly in Bull Board',
          );
        }
        jobs.push({ name: spec.name, data: spec.data, opts: { ...jobOptions, jobId: spec.jobId } });
      }
      // Not atomic with the enqueue (BullMQ adds jobs in its own scripts), but job ids are stable,
      // so an enqueue by a just-replaced owner is deduplicated; the XACK below is atomic.
      await lease.assertOwner();
      if (jobs.length > 0) await deps.publishQueue.addBulk(jobs);
      await lease.ack(
        group,
        entries.map(([entryId]) => entryId),
      );
      deps.metrics?.eventsAccepted.inc({ entry: 'ingest' }, jobs.length);
    } catch (err) {
      onFailure(lease, err);
    }
  }

  /** Pause reading while the publish queue is over `maxQueueDepth` (checked once a second). */
  async function overDepth(): Promise<boolean> {
    if (Date.now() - depthCheckedAt < 1000) return false;
    depthCheckedAt = Date.now();
    try {
      const depth = await deps.publishQueue.count();
      if (depth <= config.queue.maxQueueDepth) return false;
      logger.warn(
        { depth, maxQueueDepth: config.queue.maxQueueDepth },
        'publish queue full; ingestion paused',
      );
      depthCheckedAt = 0;
      await sleep(1000);
      return true;
    } catch {
      return false;
    }
  }

  return {
    client,
    async start() {
      if (running) return;
      running = true;
      conn = createRedis(config.redis.url, {
        name: `${config.ownership.service}-ingest`,
        blocking: true,
      });
      cmd = createRedis(config.redis.url, { name: `${config.ownership.service}-ingest-cmd` });
      for (const c of [conn, cmd]) {
        c.on('error', (err: Error) => logger.debug({ err }, 'redis connection error'));
      }
      client.on('StreamAdded', onLease);
      client.on('StreamClaimed', onLease);
      client.on('StreamDisowned', onDisowned);
      if (ownClient) {
        const notifications = await client.init();
        // Events drive the ingester; the iterator's buffer is not needed.
        await notifications.return?.();
      }
      for (const stream of client.ownedStreams) {
        const lease = client.lease(stream);
        if (lease) void adopt(lease);
      }
      loop = run();
    },
    async close() {
      if (!running) return;
      running = false;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      wake?.();
      // Unblock a BLOCKed read at once; the batch in hand finishes (ack or not) before we go on.
      conn?.disconnect();
      await loop?.catch(() => undefined);
      client.off('StreamAdded', onLease);
      client.off('StreamClaimed', onLease);
      client.off('StreamDisowned', onDisowned);
      reading.clear();
      if (ownClient) await client.done();
      await cmd?.quit().catch(() => cmd?.disconnect());
    },
  };
}

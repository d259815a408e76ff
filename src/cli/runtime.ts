import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import { createLogger, type Logger } from '../logger.js';
import { DualstreamMetrics } from '../metrics.js';
import { createRedis } from '../redis.js';
import { createDualPublisher } from '../publisher/index.js';
import { ensureTopicAtStartup } from '../publisher/topic-admin.js';
import { createPublishQueue, createPublishWorker } from '../queue/index.js';
import { Releasers, onShutdownSignals } from '../lifecycle/lifecycle.js';
import { createIngester } from '../ingest/index.js';
import { ownershipQueueName } from '../ownership/index.js';
import { createApp } from '../server/app.js';
import { createKafkaPing, type KafkaPing } from '../server/kafka-ping.js';
import { startServer } from '../server/listen.js';
import { startMetricsServer } from '../server/metrics-server.js';
import { startDemo } from './demo.js';
import { createRealtimeEdge } from '../realtime/index.js';

/** Which parts one process runs. */
export interface Parts {
  worker: boolean;
  ingest: boolean;
  server: boolean;
  /** Run the demo producer (`start --demo`). */
  demo?: boolean;
}

/** The running process: its URL (when serving) and one way to stop everything. */
export interface Running {
  url?: string;
  /** `http://<host>:<port>/metrics` of the metrics-only endpoint (`METRICS_PORT`), when serving one. */
  metricsUrl?: string;
  logger: Logger;
  /**
   * Stop in order: HTTP, demo, ingester, worker (finishing active jobs), publisher, connections.
   * Resolves whether every part closed cleanly (failures are logged).
   */
  close(): Promise<boolean>;
}

/**
 * Start the requested parts in this process. Everything opened is closed by `close()`, in the
 * reverse order of the data flow, so a graceful shutdown loses nothing.
 */
export async function runParts(config: DualstreamConfig, parts: Parts): Promise<Running> {
  const logger = createLogger(config.logLevel);
  const metrics = new DualstreamMetrics({ defaultMetrics: true });
  const releasers = new Releasers(logger);
  const close = () => releasers.releaseAll();
  try {
    const redis: Redis = createRedis(config.redis.url, { name: 'dualstream-queue' });
    redis.on('error', (err) => logger.debug({ err }, 'queue Redis connection error'));
    releasers.add('redis', () => redis.quit());
    let pubsubRedis: Redis | undefined;
    if (config.redis.pubsubUrl !== config.redis.url) {
      const r = createRedis(config.redis.pubsubUrl, { name: 'dualstream-pubsub-check' });
      r.on('error', (err) => logger.debug({ err }, 'Pub/Sub Redis connection error'));
      releasers.add('pubsub redis', () => r.quit());
      pubsubRedis = r;
    }
    const publishQueue = createPublishQueue(config, { connection: redis });
    releasers.add('publish queue', () => publishQueue.close());

    let publisher: ReturnType<typeof createDualPublisher> | undefined;
    let kafkaPing: KafkaPing | undefined;
    if (parts.worker) {
      // Before the first produce, so that a broker that auto-creates topics does not create it
      // first with its defaults.
      await ensureTopicAtStartup(config, logger);
      publisher = createDualPublisher(config, { logger, metrics });
      releasers.add('publisher', () => publisher!.close());
      const worker = createPublishWorker(config, { publisher, logger, metrics });
      releasers.add('publish worker', () => worker.close());
      logger.info(
        {
          queue: config.queue.name,
          prefix: config.redis.prefix,
          topic: config.kafka.topic,
          brokers: config.kafka.brokers,
          concurrency: config.queue.concurrency,
          ordering: config.order.mode,
        },
        `publish worker: queue "${config.queue.name}" -> Kafka topic "${config.kafka.topic}" at ${config.kafka.brokers.join(',')}, then Redis Pub/Sub; ORDERING=${config.order.mode}${config.order.mode === 'source' ? ` (ORDER_ON_FAILURE=${config.order.onFailure})` : ''}`,
      );
    } else if (parts.server) {
      kafkaPing = createKafkaPing(config);
      releasers.add('kafka ping', () => kafkaPing!.close());
    }
    if (parts.ingest) {
      const ingester = createIngester(config, { publishQueue, logger, metrics });
      await ingester.start();
      releasers.add('ingester', () => ingester.close());
    }
    let url: string | undefined;
    if (parts.server) {
      const ownershipQueue = new Queue(ownershipQueueName(config.ownership.service), {
        connection: redis,
        prefix: config.redis.prefix,
      });
      releasers.add('ownership queue', () => ownershipQueue.close());
      const extraQueues = config.server.extraQueues.map(
        (name) => new Queue(name, { connection: redis, prefix: config.redis.prefix }),
      );
      for (const q of extraQueues) releasers.add(`queue ${q.name}`, () => q.close());
      const realtime = createRealtimeEdge(config, { metrics, logger });
      releasers.add('realtime edge', () => realtime.close());
      await realtime.start();
      const app = createApp({
        config,
        publishQueue,
        ownershipQueue,
        extraQueues,
        redis,
        ...(pubsubRedis ? { pubsubRedis } : {}),
        ...(publisher ? { publisher } : {}),
        ...(kafkaPing ? { kafkaPing: () => kafkaPing!.ping() } : {}),
        metrics,
        logger,
        realtime,
      });
      const started = await startServer(app, config, logger);
      realtime.attach(started.server);
      releasers.add('http server', () => started.close());
      // Released before the HTTP server (last in, first out): subscribers hold connections open.
      releasers.add('realtime subscribers', () => realtime.hub.close());
      url = started.url;
    }
    let metricsUrl: string | undefined;
    // The HTTP server already serves /metrics; a process without it opens the metrics-only
    // endpoint when asked to, so scaled-out workers and ingesters can be scraped too.
    if (!parts.server && config.server.metricsPort !== undefined) {
      const started = await startMetricsServer(config, config.server.metricsPort, {
        metrics,
        logger,
      });
      releasers.add('metrics server', () => started.close());
      metricsUrl = `${started.url}/metrics`;
    }
    if (parts.demo) {
      const demo = await startDemo(config, { publishQueue, logger });
      releasers.add('demo', () => demo.close());
    }
    return { ...(url ? { url } : {}), ...(metricsUrl ? { metricsUrl } : {}), logger, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Stop gracefully on SIGTERM/SIGINT: stop taking work, finish active jobs, flush, disconnect
 * (see {@link onShutdownSignals} for a second signal and the exit codes).
 */
export function onShutdownSignal(running: Running): void {
  onShutdownSignals(() => running.close(), running.logger);
}

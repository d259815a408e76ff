import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import { createLogger, type Logger } from '../logger.js';
import { DualstreamMetrics } from '../metrics.js';
import { createRedis } from '../redis.js';
import { createDualPublisher } from '../publisher/index.js';
import { ensureTopicAtStartup } from '../publisher/topic-admin.js';
import { createPublishQueue, createPublishWorker } from '../queue/index.js';
import { SignalGate } from '../queue/signal-gate.js';
import { createIngester, ownershipQueueName } from '../ownership/index.js';
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
  /** Stop in order: HTTP, demo, ingester, worker (finishing active jobs), publisher, connections. */
  close(): Promise<void>;
}

/**
 * Start the requested parts in this process. Everything opened is closed by `close()`, in the
 * reverse order of the data flow, so a graceful shutdown loses nothing.
 */
export async function runParts(config: DualstreamConfig, parts: Parts): Promise<Running> {
  const logger = createLogger(config.logLevel);
  const metrics = new DualstreamMetrics({ defaultMetrics: true });
  const closers: Array<{ name: string; close: () => Promise<unknown> }> = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      try {
        await c.close();
      } catch (err) {
        logger.warn({ err, part: c.name }, 'error while closing');
      }
    }
    closers.length = 0;
  };
  try {
    const redis: Redis = createRedis(config.redis.url, { name: 'dualstream-queue' });
    redis.on('error', (err) => logger.debug({ err }, 'queue Redis connection error'));
    closers.push({ name: 'redis', close: () => redis.quit() });
    let pubsubRedis: Redis | undefined;
    if (config.redis.pubsubUrl !== config.redis.url) {
      const r = createRedis(config.redis.pubsubUrl, { name: 'dualstream-pubsub-check' });
      r.on('error', (err) => logger.debug({ err }, 'Pub/Sub Redis connection error'));
      closers.push({ name: 'pubsub redis', close: () => r.quit() });
      pubsubRedis = r;
    }
    const publishQueue = createPublishQueue(config, { connection: redis });
    closers.push({ name: 'publish queue', close: () => publishQueue.close() });

    let publisher: ReturnType<typeof createDualPublisher> | undefined;
    let kafkaPing: KafkaPing | undefined;
    if (parts.worker) {
      // Before the first produce, so that a broker that auto-creates topics does not create it
      // first with its defaults.
      await ensureTopicAtStartup(config, logger);
      publisher = createDualPublisher(config, { logger, metrics });
      closers.push({ name: 'publisher', close: () => publisher!.close() });
      const worker = createPublishWorker(config, { publisher, logger, metrics });
      closers.push({ name: 'publish worker', close: () => worker.close() });
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
      closers.push({ name: 'kafka ping', close: () => kafkaPing!.close() });
    }
    if (parts.ingest) {
      const ingester = createIngester(config, { publishQueue, logger, metrics });
      await ingester.start();
      closers.push({ name: 'ingester', close: () => ingester.close() });
    }
    let url: string | undefined;
    if (parts.server) {
      const ownershipQueue = new Queue(ownershipQueueName(config.ownership.service), {
        connection: redis,
        prefix: config.redis.prefix,
      });
      closers.push({ name: 'ownership queue', close: () => ownershipQueue.close() });
      const extraQueues = config.server.extraQueues.map(
        (name) => new Queue(name, { connection: redis, prefix: config.redis.prefix }),
      );
      for (const q of extraQueues)
        closers.push({ name: `queue ${q.name}`, close: () => q.close() });
      const realtime = createRealtimeEdge(config, { metrics, logger });
      closers.push({ name: 'realtime edge', close: () => realtime.close() });
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
      closers.push({ name: 'http server', close: () => started.close() });
      // Closed before the HTTP server (closers run in reverse): subscribers hold connections open.
      closers.push({ name: 'realtime subscribers', close: () => realtime.hub.close() });
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
      closers.push({ name: 'metrics server', close: () => started.close() });
      metricsUrl = `${started.url}/metrics`;
    }
    if (parts.demo) {
      const demo = await startDemo(config, { publishQueue, logger });
      closers.push({ name: 'demo', close: () => demo.close() });
    }
    return { ...(url ? { url } : {}), ...(metricsUrl ? { metricsUrl } : {}), logger, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Log the start-up line of a `worker`/`ingest` process, with its metrics URL when it has one. */
export function logRunning(running: Running, what: string): void {
  if (running.metricsUrl) {
    running.logger.info(
      { metricsUrl: running.metricsUrl },
      `${what}; metrics at ${running.metricsUrl}`,
    );
  } else {
    running.logger.info(what);
  }
}

/**
 * Stop gracefully on SIGTERM/SIGINT: stop taking work, finish active jobs, flush, disconnect. A
 * second signal more than a second later exits at once; the copy that a process-group signal
 * delivers through a forwarding parent (`npm start`) within that second is ignored.
 */
export function onShutdownSignal(
  running: Running,
  exit: (code: number) => void = process.exit,
): void {
  const gate = new SignalGate();
  const handler = (signal: NodeJS.Signals) => {
    const verdict = gate.receive();
    if (verdict === 'duplicate') {
      running.logger.debug({ signal }, 'same signal again (process group and parent): ignored');
      return;
    }
    if (verdict === 'force') {
      running.logger.warn({ signal }, 'second signal: exiting without waiting');
      exit(130);
      return;
    }
    running.logger.info({ signal }, 'shutting down gracefully');
    running.close().then(
      () => exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'error during shutdown');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

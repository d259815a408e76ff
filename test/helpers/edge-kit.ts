// Helpers for the real-time edge tests: a whole stack (publish queue and worker, the edge and the
// HTTP server on an ephemeral port) against the real Redis and Kafka, an SSE reader over fetch,
// and the removal of a test's retained history.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { DualstreamConfig, EnvInput } from '../../src/config/index.js';
import { silentLogger } from '../../src/logger.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createPublishQueue, createPublishWorker, enqueueEvents } from '../../src/queue/index.js';
import { createApp } from '../../src/server/app.js';
import { startServer, type StartedServer } from '../../src/server/listen.js';
import { createRealtimeEdge, type RealtimeEdge } from '../../src/realtime/index.js';
import { SseParser, type SseEvent } from '../../src/realtime/sse-parser.js';
import { REDIS_URL, createTopic, teardownPipeline, testConfig, waitFor } from './pipeline-kit.js';
import { basic } from './server-kit.js';

export const EDGE_USER = 'operator';
export const EDGE_PASSWORD = 'correct-horse-battery';
export const EDGE_SECRET = 'edge-test-secret-0123456789abcdef-0123';
export const AUTH = basic(EDGE_USER, EDGE_PASSWORD);

/** A running stack for one test file. */
export interface EdgeStack {
  config: DualstreamConfig;
  queue: ReturnType<typeof createPublishQueue>;
  worker: ReturnType<typeof createPublishWorker>;
  edge: RealtimeEdge;
  server: StartedServer;
  url: string;
  metrics: DualstreamMetrics;
  /** Enqueue `count` events of one source, numbered from `from`. */
  publish(source: string, count: number, from?: number): Promise<void>;
  close(): Promise<void>;
}

/** Start queue, worker, edge and server with credentials and a subscribe secret. */
export async function startEdgeStack(env: EnvInput = {}): Promise<EdgeStack> {
  const config = testConfig({
    BOARD_USER: EDGE_USER,
    BOARD_PASSWORD: EDGE_PASSWORD,
    SUBSCRIBE_SECRET: EDGE_SECRET,
    PORT: '0',
    ...env,
  });
  await createTopic(config.kafka.topic, 2);
  const metrics = new DualstreamMetrics();
  const logger = silentLogger();
  const redis = new Redis(REDIS_URL);
  const queue = createPublishQueue(config, { connection: redis });
  const worker = createPublishWorker(config, { metrics, drainDelay: 1 });
  const edge = createRealtimeEdge(config, { metrics, logger });
  await edge.start();
  const app = createApp({
    config,
    publishQueue: queue,
    redis,
    kafkaPing: async () => true,
    metrics,
    logger,
    realtime: edge,
  });
  const server = await startServer(app, config, logger);
  edge.attach(server.server);
  let n = 0;
  return {
    config,
    queue,
    worker,
    edge,
    server,
    url: server.url,
    metrics,
    publish: async (source, count, from) => {
      const [sourceType, sourceId] = source.split(':') as [string, string];
      const start = from ?? n;
      n = Math.max(n, start + count);
      await enqueueEvents(
        queue,
        Array.from({ length: count }, (_, i) => ({
          id: `${sourceType}-${createHash('sha1').update(sourceId).digest('hex').slice(0, 12)}-${start + i}-${config.queue.name}`,
          type: 'push',
          sourceType,
          sourceId,
          payload: { i: start + i },
        })),
      );
    },
    close: async () => {
      await edge.hub.close();
      await server.close();
      await edge.close();
      await teardownPipeline(config, worker, queue);
      await redis.quit();
    },
  };
}

/** An open SSE stream read with fetch. */
export interface SseStream {
  status: number;
  events: SseEvent[];
  /** Notifications received (`message` events), parsed. */
  messages(): Array<{ seq: number; source_id: string; source_type: string; id: string }>;
  lastEventId(): string;
  waitFor(pred: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Open `GET url` as an event stream; resolves once headers arrived. */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: ac.signal,
  });
  const events: SseEvent[] = [];
  const parser = new SseParser();
  let ended: Promise<void> = Promise.resolve();
  if (res.ok && res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    ended = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          events.push(...parser.push(value));
        }
      } catch {
        // aborted
      }
    })();
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  return {
    status: res.status,
    events,
    messages: () =>
      events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as never),
    lastEventId: () => parser.lastEventId,
    waitFor: (pred, what, timeoutMs = 20_000) => waitFor(() => pred(events), timeoutMs, what),
    ended,
    close: () => ac.abort(),
  };
}

import express, {
  type Express,
  type NextFunction,
  type Request,
  type Response,
  type Router,
} from 'express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import { DualstreamMetrics } from '../metrics.js';
import { silentLogger, type Logger } from '../logger.js';
import { enqueueValidated } from '../queue/index.js';
import { requireAuth } from './auth.js';
import { BOARD_PATH, createBoardRouter, type BoardQueue } from './board.js';
import { createEventsRouter, EVENTS_PATH, type EnqueueEventsFn } from './events-route.js';
import { createHealthRouter, type ReadinessCheck } from './health-routes.js';
import { assertSecureBinding } from './security.js';
import { securityHeaders } from './security-headers.js';

/** The part of `DualPublisher` the server uses for readiness. */
export interface PublisherPing {
  ping(): Promise<{ kafka: boolean; pubsub: boolean }>;
}

/** Dependencies of {@link createApp}; every connection is created and closed by the caller. */
export interface AppDeps {
  config: DualstreamConfig;
  /** The publish queue: `POST /v1/events` enqueues here; shown on the board. */
  publishQueue: Queue;
  /** The stream-ownership queue (claim jobs, sweep), shown on the board. */
  ownershipQueue?: Queue;
  /** More queues to show on the board (e.g. from `EXTRA_QUEUES`). */
  extraQueues?: Queue[];
  /** The queue Redis, checked by `/readyz`. */
  redis: Redis;
  /** The Pub/Sub Redis, checked by `/readyz`. @defaultValue the publisher's check, else `redis` */
  pubsubRedis?: Redis;
  /** Publisher whose `ping()` answers the Kafka (and Pub/Sub) readiness check. */
  publisher?: PublisherPing;
  /** Kafka readiness check when there is no publisher in this process (the `board` command). */
  kafkaPing?: () => Promise<boolean>;
  /** @defaultValue a fresh registry */
  metrics?: DualstreamMetrics;
  /** @defaultValue silent */
  logger?: Logger;
  /** @defaultValue `enqueueValidated` of the queue module (the route validates first) */
  enqueueEvents?: EnqueueEventsFn;
  /** The real-time edge (`createRealtimeEdge`): `/v1/subscribe` and `/v1/sources/…/events`. */
  realtime?: { router: Router };
}

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

function errorAnswer(err: HttpError, limit: number): { status: number; message: string } {
  const status = err.status ?? err.statusCode ?? 500;
  if (err.type === 'entity.too.large') {
    return { status: 413, message: `Request body is larger than the limit of ${limit} bytes` };
  }
  if (err.type === 'entity.parse.failed') {
    return { status: 400, message: `Malformed JSON in request body: ${err.message ?? ''}`.trim() };
  }
  if (status >= 400 && status < 500 && err.expose !== false) {
    return { status, message: err.message ?? 'Bad request' };
  }
  return { status: 500, message: 'Internal server error' };
}

/**
 * Build the HTTP app: Bull Board at `/admin/queues`, `POST /v1/events`, `/healthz`, `/readyz`
 * and `/metrics`. It never listens by itself (see `startServer`), so tests and host applications
 * can mount it where they like.
 *
 * Auth: the board and the ingest API require the configured basic credentials or bearer token;
 * `/metrics` requires the bearer token when one is configured; the health probes are public.
 * Throws `ConfigError` when no credentials are configured and the insecure loopback mode is not
 * explicitly enabled.
 */
export function createApp(deps: AppDeps): Express {
  const { config } = deps;
  const logger = deps.logger ?? silentLogger();
  const metrics = deps.metrics ?? new DualstreamMetrics();
  assertSecureBinding(config);
  const kafkaCheck: () => Promise<boolean> =
    deps.kafkaPing ??
    (deps.publisher
      ? async () => (await deps.publisher!.ping()).kafka
      : () => {
          throw new TypeError(
            'createApp needs `publisher` or `kafkaPing` for the Kafka readiness check',
          );
        });
  const pubsubCheck: () => Promise<boolean> = deps.pubsubRedis
    ? async () => (await deps.pubsubRedis!.ping()) === 'PONG'
    : deps.publisher
      ? async () => (await deps.publisher!.ping()).pubsub
      : async () => (await deps.redis.ping()) === 'PONG';
  const checks: ReadinessCheck[] = [
    { name: 'kafka', check: kafkaCheck },
    { name: 'redis', check: async () => (await deps.redis.ping()) === 'PONG' },
    { name: 'pubsubRedis', check: pubsubCheck },
  ];

  const boardQueues: BoardQueue[] = [
    {
      queue: deps.publishQueue,
      description: `Events to publish: Kafka topic "${config.kafka.topic}", then Redis Pub/Sub "${config.events.channelPrefix}:<sourceType>:<sourceId>". Job name = event type.`,
      cooldownLimiter: true,
    },
  ];
  if (deps.ownershipQueue) {
    boardQueues.push({
      queue: deps.ownershipQueue,
      description: 'Stream ownership: claim jobs after a lock expired, and the periodic sweep.',
    });
  }
  for (const q of deps.extraQueues ?? []) boardQueues.push({ queue: q });
  const allQueues = boardQueues.map((b) => b.queue);

  const credentials = {
    user: config.server.user,
    password: config.server.password,
    token: config.server.token,
  };
  const auth = requireAuth(credentials);

  const app = express();
  app.disable('x-powered-by');
  // First, so that every response carries them: 401s, 404s, errors, the board's static files.
  app.use(securityHeaders());
  app.use(
    createHealthRouter({
      checks,
      metrics,
      queues: allQueues,
      logger,
      metricsGuard: requireAuth(credentials, { bearerOnly: true }),
    }),
  );
  app.use(BOARD_PATH, auth, createBoardRouter(boardQueues));
  app.use(
    EVENTS_PATH,
    auth,
    createEventsRouter({
      config,
      publishQueue: deps.publishQueue,
      enqueueEvents: deps.enqueueEvents ?? enqueueValidated,
      metrics,
      logger,
    }),
  );
  // The edge checks its own credentials: basic/bearer, or a browser's signed `?token=`.
  if (deps.realtime) app.use(deps.realtime.router);
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'Not found' });
  });
  // Four parameters mark this as Express's error handler: every error ends as JSON, never as
  // an HTML page with a stack trace.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const answer = errorAnswer((err ?? {}) as HttpError, config.server.bodyLimitBytes);
    if (answer.status >= 500) logger.error({ err, path: req.path }, 'request failed');
    if (res.headersSent) return;
    res.status(answer.status).json({ error: answer.message });
  });
  return app;
}

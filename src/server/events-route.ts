import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import type { DualstreamConfig } from '../config/index.js';
import { BackpressureError } from '../errors.js';
import { validateBatch, type DualEvent } from '../events/index.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { Logger } from '../logger.js';

/** Path of the ingest endpoint. */
export const EVENTS_PATH = '/v1/events';

/** One accepted event in the 202 answer. */
export interface AcceptedEvent {
  id: string;
  /** True when an event with this id was already enqueued (idempotent no-op). */
  duplicate: boolean;
}

/** One validation problem in the 400 answer; `index` is set when the body was an array. */
export interface ApiIssue {
  index?: number;
  path: string;
  message: string;
  code: string;
}

/** The enqueue function the route uses (`enqueueValidated` of the queue module). */
export type EnqueueEventsFn = (
  queue: Queue,
  inputs: DualEvent[],
  options: { maxQueueDepth: number; timeoutMs: number },
) => Promise<AcceptedEvent[]>;

/** Dependencies of {@link createEventsRouter}. */
export interface EventsRouteDeps {
  config: DualstreamConfig;
  publishQueue: Queue;
  enqueueEvents: EnqueueEventsFn;
  metrics?: DualstreamMetrics;
  logger: Logger;
}

/**
 * `POST /v1/events`: one event or an array. The whole body is validated before anything is
 * enqueued, so an array with one bad event enqueues nothing (400 names every bad index); the
 * client can fix and resend the same array, and the idempotent ids make the resend safe.
 */
export function createEventsRouter(deps: EventsRouteDeps): Router {
  const router = express.Router();
  const { config, metrics } = deps;
  router.post(
    '/',
    (req: Request, res: Response, next: NextFunction) => {
      if (!req.is('application/json')) {
        const got = req.headers['content-type'];
        res.status(415).json({
          error: `Content-Type must be application/json, got ${got ? `"${got}"` : 'none'}`,
        });
        return;
      }
      next();
    },
    express.json({ limit: config.server.bodyLimitBytes, strict: false }),
    async (req: Request, res: Response) => {
      const body: unknown = req.body;
      if (body === undefined) {
        res
          .status(400)
          .json({ error: 'Request body is empty: send one event or an array of events as JSON' });
        return;
      }
      const inputs = Array.isArray(body) ? body : [body];
      if (inputs.length === 0) {
        res.status(400).json({ error: 'Request body is an empty array: send at least one event' });
        return;
      }
      const { events, rejected } = validateBatch(inputs, {
        maxPayloadBytes: config.events.maxPayloadBytes,
      });
      if (rejected.length > 0) {
        const issues: ApiIssue[] = rejected.flatMap(({ index, issues }) =>
          issues.map((issue) => (Array.isArray(body) ? { index, ...issue } : { ...issue })),
        );
        metrics?.eventsRejected.inc({ entry: 'http' }, rejected.length);
        res.status(400).json({
          error: `Invalid event${rejected.length === 1 ? '' : 's'}: nothing was enqueued`,
          issues,
        });
        return;
      }
      try {
        const accepted = await deps.enqueueEvents(deps.publishQueue, events, {
          maxQueueDepth: config.queue.maxQueueDepth,
          timeoutMs: config.queue.backpressureTimeoutMs,
        });
        metrics?.eventsAccepted.inc({ entry: 'http' }, accepted.length);
        res.status(202).json({ accepted });
      } catch (err) {
        if (err instanceof BackpressureError) {
          res.setHeader('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
          res.status(503).json({ error: err.message, retryAfterMs: err.retryAfterMs });
          return;
        }
        throw err;
      }
    },
  );
  // The path exists; other methods are 405 with Allow, not 404 as for an unknown path.
  router.all('/', (_req: Request, res: Response) => {
    res.setHeader('Allow', 'POST');
    res.status(405).json({ error: 'Method not allowed: POST one event or an array of events' });
  });
  return router;
}

import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RealtimeHub } from './hub.js';
import type { EdgeHistory, RetainedEvent } from './history.js';
import { checkAccess, type EdgeCredentials } from './access.js';
import { sseSink, startSse } from './sse.js';
import { channelSchema, decodeResumeToken, type Channel } from './tokens.js';

/** Path of the SSE endpoint. */
export const SUBSCRIBE_PATH = '/v1/subscribe';
/** Path of the recent-events endpoint (`/v1/sources/<sourceType>/<sourceId>/events`). */
export const SOURCES_PATH = '/v1/sources';

const one = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v.at(-1)! : v));

/** Query of `GET /v1/subscribe`. */
export const subscribeQuerySchema = z.object({
  channel: z
    .union([z.string(), z.array(z.string())], {
      error: 'channel is required (repeatable): <sourceType>:<sourceId> or <sourceType>:*',
    })
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(channelSchema).min(1).max(100, 'at most 100 channels per subscription')),
  lastEventId: one.optional(),
  token: one.optional(),
});

const intParam = (name: string, def: number, min: number, max: number) =>
  one
    .optional()
    .transform((v) => v ?? String(def))
    .pipe(
      z
        .string()
        .regex(/^\d+$/, `${name} must be a whole number`)
        .transform(Number)
        .pipe(
          z
            .number()
            .int()
            .min(min, `${name} must be at least ${min}`)
            .max(max, `${name} must be at most ${max}`),
        ),
    );

/** Query of `GET /v1/sources/<sourceType>/<sourceId>/events`. */
export const recentQuerySchema = z.object({
  after: intParam('after', 0, 0, Number.MAX_SAFE_INTEGER),
  limit: intParam('limit', 100, 1, 1000),
  token: one.optional(),
});

/** One event of the recent-events answer: the full event with where Kafka put it. */
export type RecentEvent = RetainedEvent['event'] & {
  seq: number;
  topic: string;
  partition: number;
  offset: string;
};

/** A range of seqs no longer retained, and where to read it in Kafka. */
export interface MissingRange {
  from_seq: number;
  to_seq: number;
  /** The records are in this topic and partition (key `<sourceType>:<sourceId>`, header `source-seq`), below `before_offset`. */
  kafka?: { topic: string; partition: number; before_offset: string };
}

/** The answer of `GET /v1/sources/<sourceType>/<sourceId>/events`. */
export interface RecentEventsAnswer {
  source: string;
  events: RecentEvent[];
  /** True when `events` holds every event after `after` up to the last one returned, with no hole. */
  complete: boolean;
  /** True when more retained events follow: ask again with `after` = the last seq. */
  more: boolean;
  missing: MissingRange[];
}

/** Dependencies of {@link createRealtimeRouter}. */
export interface RealtimeRouterDeps {
  hub: RealtimeHub;
  history: EdgeHistory | undefined;
  reader: Redis;
  credentials: EdgeCredentials;
}

function issues(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
}

/**
 * The real-time edge's HTTP routes: `GET /v1/subscribe` (Server-Sent Events) and
 * `GET /v1/sources/<sourceType>/<sourceId>/events`. Mount at the root of the app.
 */
export function createRealtimeRouter(deps: RealtimeRouterDeps): Router {
  const router = express.Router();

  router.get(SUBSCRIBE_PATH, (req: Request, res: Response) => {
    const q = subscribeQuerySchema.safeParse(req.query);
    if (!q.success) {
      res.status(400).json({ error: 'Invalid subscription', issues: issues(q.error) });
      return;
    }
    const channels: Channel[] = q.data.channel;
    const access = checkAccess(req.headers, q.data.token, channels, deps.credentials);
    if (!access.ok) {
      res.status(access.status).json({ error: access.error });
      return;
    }
    const header = req.headers['last-event-id'];
    const lastId = (Array.isArray(header) ? header[0] : header) ?? q.data.lastEventId;
    const resume = lastId ? (decodeResumeToken(lastId) ?? 'unknown') : undefined;
    startSse(res);
    const sink = sseSink(res);
    // Browsers wait this long before reconnecting with Last-Event-ID.
    sink.retry(1000);
    const client = deps.hub.add(channels, 'sse', sink, resume);
    res.on('close', () => deps.hub.remove(client));
  });

  router.get(
    `${SOURCES_PATH}/:sourceType/:sourceId/events`,
    (req: Request, res: Response, next: NextFunction) => {
      const channel = channelSchema.safeParse(
        `${String(req.params.sourceType)}:${String(req.params.sourceId)}`,
      );
      const q = recentQuerySchema.safeParse(req.query);
      if (!channel.success || !q.success || channel.data.kind !== 'source') {
        const all = [
          ...(channel.success
            ? channel.data.kind === 'source'
              ? []
              : [
                  {
                    path: 'sourceId',
                    message: 'sourceId must name one source, not "*"',
                    code: 'custom',
                  },
                ]
            : issues(channel.error).map((i) => ({ ...i, path: 'source' }))),
          ...(q.success ? [] : issues(q.error)),
        ];
        res.status(400).json({ error: 'Invalid request', issues: all });
        return;
      }
      const c = channel.data;
      const access = checkAccess(req.headers, q.data.token, [c], deps.credentials);
      if (!access.ok) {
        res.status(access.status).json({ error: access.error });
        return;
      }
      if (!deps.history) {
        res.status(404).json({ error: 'The retained history is disabled (HISTORY_ENABLED=false)' });
        return;
      }
      recentEvents(
        deps.history,
        deps.reader,
        c.sourceType,
        c.sourceId,
        q.data.after,
        q.data.limit,
      ).then((answer) => res.json(answer), next);
    },
  );
  return router;
}

/** The recent-events answer for one source (see {@link RecentEventsAnswer}). */
export async function recentEvents(
  history: EdgeHistory,
  reader: Redis,
  sourceType: string,
  sourceId: string,
  after: number,
  limit: number,
): Promise<RecentEventsAnswer> {
  const page = await history.readSource(reader, sourceType, sourceId, after, limit);
  const missing: MissingRange[] = [];
  let expected = after + 1;
  for (const e of page.events) {
    if (e.seq > expected) {
      missing.push({
        from_seq: expected,
        to_seq: e.seq - 1,
        kafka: { topic: e.topic, partition: e.partition, before_offset: e.offset },
      });
    }
    expected = e.seq + 1;
  }
  if (page.events.length === 0 && page.trimmed >= expected) {
    const o = page.oldest;
    missing.push({
      from_seq: expected,
      to_seq: page.trimmed,
      ...(o ? { kafka: { topic: o.topic, partition: o.partition, before_offset: o.offset } } : {}),
    });
  }
  return {
    source: `${sourceType}:${sourceId}`,
    events: page.events.map((e) => ({
      ...e.event,
      seq: e.seq,
      topic: e.topic,
      partition: e.partition,
      offset: e.offset,
    })),
    complete: missing.length === 0,
    more: page.events.length === limit,
    missing,
  };
}

import type { Server } from 'node:http';
import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import { createRedis } from '../redis.js';
import { EdgeHistory } from './history.js';
import { RealtimeHub } from './hub.js';
import { edgeKeyBase } from './keys.js';
import { createRealtimeRouter } from './routes.js';
import { attachWebSocket } from './ws.js';

/** The real-time edge of one server process. */
export interface RealtimeEdge {
  hub: RealtimeHub;
  history: EdgeHistory | undefined;
  /** `GET /v1/subscribe` and `GET /v1/sources/…/events`; give it to `createApp({ realtime })`. */
  router: Router;
  /** Subscribe to Pub/Sub (the one subscription of the process). */
  start(): Promise<void>;
  /** Serve `/v1/ws` on a listening HTTP server. */
  attach(server: Server): void;
  /** End every subscriber, unsubscribe and close the connections this edge opened. */
  close(): Promise<void>;
}

/** Dependencies of {@link createRealtimeEdge}; omitted connections are opened (and closed) here. */
export interface RealtimeEdgeDeps {
  /** Connection for the pattern subscription; default a new one to `config.redis.pubsubUrl`. */
  subscriber?: Redis;
  /** Connection for history reads; default a new one to `config.redis.pubsubUrl`. */
  reader?: Redis;
  metrics?: DualstreamMetrics;
  logger?: Logger;
}

/** Build the real-time edge (hub, history reader, routes, WebSocket) from the configuration. */
export function createRealtimeEdge(
  config: DualstreamConfig,
  deps: RealtimeEdgeDeps = {},
): RealtimeEdge {
  const owned: Redis[] = [];
  const open = (name: string, extra: Record<string, unknown>) => {
    const r = createRedis(config.redis.pubsubUrl, { name, extra });
    r.on('error', (err) => deps.logger?.debug({ err }, `${name} connection error`));
    owned.push(r);
    return r;
  };
  const subscriber = deps.subscriber ?? open('dualstream-edge-sub', {});
  // History reads fail fast while Redis is away: the session drops and the client resumes.
  const reader = deps.reader ?? open('dualstream-edge-read', { maxRetriesPerRequest: 1 });
  const h = config.edge.history;
  const history = h.enabled
    ? new EdgeHistory(edgeKeyBase(config.redis.prefix, config.events.channelPrefix), {
        maxEvents: h.maxEvents,
        maxBytes: h.maxBytes,
        maxAgeMs: h.maxAgeMs,
        typeMaxEvents: h.typeMaxEvents,
      })
    : undefined;
  const hub = new RealtimeHub({
    subscriber,
    reader,
    ...(history ? { history } : {}),
    channelPrefix: config.events.channelPrefix,
    clientBufferBytes: config.edge.clientBufferBytes,
    heartbeatMs: config.edge.heartbeatMs,
    pageSize: config.edge.recoverLimit,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const credentials = {
    ...(config.server.user ? { user: config.server.user } : {}),
    ...(config.server.password ? { password: config.server.password } : {}),
    ...(config.server.token ? { token: config.server.token } : {}),
    ...(config.edge.subscribeSecret ? { subscribeSecret: config.edge.subscribeSecret } : {}),
  };
  const router = createRealtimeRouter({ hub, history, reader, credentials });
  const detach: Array<() => Promise<void>> = [];
  return {
    hub,
    history,
    router,
    start: () => hub.start(),
    attach: (server) => {
      detach.push(attachWebSocket(server, hub, credentials));
    },
    close: async () => {
      await hub.close();
      for (const d of detach) await d();
      for (const r of owned) await r.quit().catch(() => r.disconnect());
    },
  };
}

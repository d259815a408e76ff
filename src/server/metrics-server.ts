import express, { type Express, type Request, type Response } from 'express';
import type { DualstreamConfig } from '../config/index.js';
import type { DualstreamMetrics } from '../metrics.js';
import { silentLogger, type Logger } from '../logger.js';
import { requireAuth } from './auth.js';
import { healthzHandler, metricsHandler } from './health-routes.js';
import { listenOn, type StartedServer } from './listen.js';
import { isLoopbackHost } from './security.js';
import { securityHeaders } from './security-headers.js';

/** Dependencies of {@link createMetricsApp} and {@link startMetricsServer}. */
export interface MetricsAppDeps {
  /** The process's registry: everything its worker or ingester counts. */
  metrics: DualstreamMetrics;
  /** Bearer token required by `/metrics` (`BOARD_TOKEN`); absent = open, as on the main server. */
  token?: string;
  /** @defaultValue silent */
  logger?: Logger;
}

/**
 * Build the metrics-only app of a process without the HTTP server (`dualstream worker`,
 * `dualstream ingest`): `GET /metrics` (bearer token when one is configured) and `GET /healthz`.
 *
 * It does not export `dualstream_queue_jobs`: the queue depth is the same number whichever process
 * reads it, and the dashboard sums that gauge over instances, so only the HTTP server reports it.
 */
export function createMetricsApp(deps: MetricsAppDeps): Express {
  const logger = deps.logger ?? silentLogger();
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.get('/healthz', healthzHandler());
  app.get(
    '/metrics',
    requireAuth(deps.token === undefined ? {} : { token: deps.token }, { bearerOnly: true }),
    metricsHandler({ metrics: deps.metrics, queues: [], logger }),
  );
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'Not found: this port serves only /metrics and /healthz' });
  });
  return app;
}

/**
 * Listen with {@link createMetricsApp} on `config.server.host` and `port` (0 = ephemeral). Unlike
 * the main server it needs no credentials, since it exposes counts only; it warns when it is open
 * on a non-loopback host.
 */
export async function startMetricsServer(
  config: Pick<DualstreamConfig, 'server'>,
  port: number,
  deps: Omit<MetricsAppDeps, 'token'>,
): Promise<StartedServer> {
  const logger = deps.logger ?? silentLogger();
  const { host, token } = config.server;
  if (token === undefined && !isLoopbackHost(host)) {
    logger.warn(
      { host },
      '/metrics is open on a non-loopback host: set BOARD_TOKEN to require a bearer token',
    );
  }
  const app = createMetricsApp({ ...deps, logger, ...(token === undefined ? {} : { token }) });
  return listenOn(app, host, port);
}

import express, { type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import { toError, withTimeout } from '../async.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { Logger } from '../logger.js';

/** A named readiness check: resolves true when the dependency is reachable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

/** Result of one readiness check in the `/readyz` answer. */
export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

/** Readiness checks fail after this long, so a hung dependency cannot hang the probe. */
export const READINESS_TIMEOUT_MS = 2000;

/** Queue states exported as `dualstream_queue_jobs{queue,state}`. */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const;

async function runCheck(c: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  try {
    const ok = await withTimeout(c.check(), timeoutMs, `timed out after ${timeoutMs} ms`);
    return { ok, ms: Date.now() - started, ...(ok ? {} : { error: 'not reachable' }) };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: toError(err).message };
  }
}

/** Run every check in parallel; the map is keyed by check name. */
export async function runReadiness(
  checks: ReadinessCheck[],
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const results = await Promise.all(checks.map((c) => runCheck(c, timeoutMs)));
  const out: Record<string, CheckResult> = {};
  checks.forEach((c, i) => {
    out[c.name] = results[i] ?? { ok: false, ms: 0, error: 'not run' };
  });
  return { ready: results.every((r) => r.ok), checks: out };
}

/** Set the queue-depth gauge from `getJobCounts` of each queue. */
export async function refreshQueueDepth(
  metrics: DualstreamMetrics,
  queues: Queue[],
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<void> {
  await Promise.all(
    queues.map(async (queue) => {
      const counts = await withTimeout(
        queue.getJobCounts(...QUEUE_STATES),
        timeoutMs,
        'getJobCounts timed out',
      );
      for (const state of QUEUE_STATES) {
        metrics.queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    }),
  );
}

/** Dependencies of {@link createHealthRouter}. */
export interface HealthRouteDeps {
  checks: ReadinessCheck[];
  metrics: DualstreamMetrics;
  queues: Queue[];
  logger: Logger;
  /** Middleware guarding `/metrics` (bearer token when configured). */
  metricsGuard: express.RequestHandler;
}

/** `GET /healthz`: the process is alive (no dependency is checked). */
export function healthzHandler(): express.RequestHandler {
  return (_req: Request, res: Response) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  };
}

/** Dependencies of {@link metricsHandler}. */
export interface MetricsHandlerDeps {
  metrics: DualstreamMetrics;
  /** Queues whose depth is refreshed before each scrape; empty = no `dualstream_queue_jobs`. */
  queues: Queue[];
  logger: Logger;
}

/** `GET /metrics`: Prometheus text of the registry, queue depth refreshed first. */
export function metricsHandler(deps: MetricsHandlerDeps): express.RequestHandler {
  return async (_req: Request, res: Response) => {
    try {
      await refreshQueueDepth(deps.metrics, deps.queues);
    } catch (err) {
      // Serve the other metrics anyway: a scrape must not fail because Redis is slow.
      deps.logger.warn({ err }, 'could not refresh queue depth for /metrics');
    }
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  };
}

/** `/healthz` (process alive), `/readyz` (dependencies reachable) and `/metrics`. */
export function createHealthRouter(deps: HealthRouteDeps): Router {
  const router = express.Router();
  router.get('/healthz', healthzHandler());
  router.get('/readyz', async (_req: Request, res: Response) => {
    const result = await runReadiness(deps.checks);
    res.status(result.ready ? 200 : 503).json({
      status: result.ready ? 'ready' : 'not ready',
      checks: result.checks,
    });
  });
  router.get('/metrics', deps.metricsGuard, metricsHandler(deps));
  return router;
}

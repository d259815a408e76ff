export { createApp, type AppDeps, type PublisherPing } from './app.js';
export {
  requireAuth,
  checkAuthorization,
  safeEqual,
  hasCredentials,
  AUTH_REALM,
  type ServerCredentials,
  type RequireAuthOptions,
} from './auth.js';
export { BOARD_PATH, createBoardRouter, type BoardQueue } from './board.js';
export {
  EVENTS_PATH,
  createEventsRouter,
  type AcceptedEvent,
  type ApiIssue,
  type EnqueueEventsFn,
  type EventsRouteDeps,
} from './events-route.js';
export {
  QUEUE_STATES,
  READINESS_TIMEOUT_MS,
  healthzHandler,
  metricsHandler,
  refreshQueueDepth,
  runReadiness,
  type CheckResult,
  type MetricsHandlerDeps,
  type ReadinessCheck,
} from './health-routes.js';
export { createKafkaPing, type KafkaPing } from './kafka-ping.js';
export { listenOn, startServer, type StartedServer } from './listen.js';
export { createMetricsApp, startMetricsServer, type MetricsAppDeps } from './metrics-server.js';
export { assertSecureBinding, isLoopbackHost } from './security.js';

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
  refreshQueueDepth,
  runReadiness,
  type CheckResult,
  type ReadinessCheck,
} from './health-routes.js';
export { createKafkaPing, type KafkaPing } from './kafka-ping.js';
export { startServer, type StartedServer } from './listen.js';
export { assertSecureBinding, isLoopbackHost } from './security.js';

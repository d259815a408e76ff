/**
 * bullmq-dualstream: every event becomes a BullMQ job whose processor writes it to Kafka (durable)
 * and then notifies Redis Pub/Sub (instant, id-only).
 */
export * from './errors.js';
export * from './events/index.js';
export * from './config/index.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { createRedis, type CreateRedisOptions } from './redis.js';
export { DualstreamMetrics } from './metrics.js';
export * from './publisher/index.js';
export * from './queue/index.js';
export * from './server/index.js';
export * from './ownership/index.js';
export {
  SourceOrder,
  orderKeys,
  removeOrderState,
  type OrderFailurePolicy,
  type OrderKeys,
  type OrderWaitOptions,
  type SourceOrderOptions,
} from './order/index.js';
export {
  createRealtimeEdge,
  RealtimeHub,
  EdgeHistory,
  DEFAULT_RETENTION,
  edgeKeyBase,
  edgeKeys,
  createRealtimeRouter,
  recentEvents,
  attachWebSocket,
  subscribe,
  SubscribeRefusedError,
  SseParser,
  createSubscribeToken,
  verifySubscribeToken,
  encodeResumeToken,
  decodeResumeToken,
  channelSchema,
  checkAccess,
  SubscribeTokenError,
  SUBSCRIBE_PATH,
  SOURCES_PATH,
  WS_PATH,
  type RealtimeEdge,
  type RealtimeEdgeDeps,
  type RealtimeHubOptions,
  type HubClient,
  type RetentionOptions,
  type RetainedEvent,
  type EdgeNotification,
  type EdgeKeys,
  type RecentEvent,
  type RecentEventsAnswer,
  type MissingRange,
  type RealtimeRouterDeps,
  type Channel,
  type Position,
  type SubscribeTokenOptions,
  type VerifiedToken,
  type AccessVerdict,
  type EdgeCredentials,
  type ResetInfo,
  type ResetReason,
  type SubscriberNotification,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStats,
  type ClientReset,
  type SseEvent,
} from './realtime/index.js';

export { createRealtimeEdge, type RealtimeEdge, type RealtimeEdgeDeps } from './edge.js';
export { RealtimeHub, type RealtimeHubOptions, type HubClient } from './hub.js';
export {
  EdgeHistory,
  DEFAULT_RETENTION,
  type RetentionOptions,
  type RetainedEvent,
  type EdgeNotification,
} from './history.js';
export { edgeKeyBase, edgeKeys, type EdgeKeys } from './keys.js';
export {
  createRealtimeRouter,
  recentEvents,
  SUBSCRIBE_PATH,
  SOURCES_PATH,
  type RecentEvent,
  type RecentEventsAnswer,
  type MissingRange,
  type RealtimeRouterDeps,
} from './routes.js';
export { WS_PATH, attachWebSocket } from './ws.js';
export {
  createSubscribeToken,
  verifySubscribeToken,
  encodeResumeToken,
  decodeResumeToken,
  channelSchema,
  SubscribeTokenError,
  type Channel,
  type Position,
  type SubscribeTokenOptions,
  type VerifiedToken,
} from './tokens.js';
export { checkAccess, type AccessVerdict, type EdgeCredentials } from './access.js';
export type { ResetInfo, ResetReason, SubscriberNotification } from './session.js';
export {
  subscribe,
  SubscribeRefusedError,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStats,
  type ClientReset,
} from './client.js';
export { SseParser, type SseEvent } from './sse-parser.js';

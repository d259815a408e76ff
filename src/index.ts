/**
 * bullmq-dualstream: every event becomes a BullMQ job whose processor writes it to Kafka (durable)
 * and then notifies Redis Pub/Sub (instant, id-only).
 *
 * The public API, by name. The README's "API" section lists exactly these names (a unit test
 * holds the two together); everything else under src/ is internal and may change.
 */

// Errors
export {
  BackpressureError,
  ConfigError,
  DualstreamError,
  EventValidationError,
  FencingError,
  KafkaPublishError,
  OwnershipError,
  type ConfigIssue,
  type EventIssue,
} from './errors.js';

// Configuration, logging, metrics, connections
export {
  loadConfig,
  type DualstreamConfig,
  type EnvInput,
  type KafkaConnectionConfig,
} from './config/index.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { DualstreamMetrics } from './metrics.js';
export { createRedis, type CreateRedisOptions } from './redis.js';

// Events: the contract, validation, naming, the Kafka record and the notification
export {
  DEFAULT_CHANNEL_PREFIX,
  DEFAULT_MAX_PAYLOAD_BYTES,
  KAFKA_HEADERS,
  channelFor,
  decodeEvent,
  eventSchema,
  kafkaHeadersFor,
  notificationMessage,
  parseEvent,
  safeParseEvent,
  sourceKey,
  toRecord,
  validateBatch,
  type DualEvent,
  type EventInput,
  type EventNotification,
  type EventRecord,
  type JsonValue,
  type KafkaReceipt,
  type ParseEventOptions,
  type ParseEventResult,
  type RejectedInput,
  type TopicSelector,
  type ValidatedBatch,
} from './events/index.js';

// Publishing without a queue, and the producer seam
export {
  DualPublisher,
  createDualPublisher,
  createKafkajsProducer,
  createPlatformaticProducer,
  type DualPublisherDeps,
  type DualPublisherOptions,
  type EventProducer,
  type KafkajsProducerOptions,
  type PlatformaticProducerOptions,
  type PublishResult,
} from './publisher/index.js';

// The publish queue and worker
export {
  PublishWorker,
  createPublishQueue,
  createPublishWorker,
  enqueueEvent,
  enqueueEvents,
  publishJobOptions,
  queueDepth,
  type CreatePublishQueueOptions,
  type EnqueueOptions,
  type EnqueuedEvent,
  type PublishJobData,
  type PublishWorkerDeps,
  type PublishWorkerEvents,
} from './queue/index.js';
export { removeOrderState, type OrderFailurePolicy } from './order/index.js';

// Shutdown
export {
  FORCED_EXIT_CODE,
  Releasers,
  installShutdown,
  onShutdownSignals,
  type Closeable,
  type InstallShutdownOptions,
  type ShutdownSignalOptions,
} from './lifecycle/lifecycle.js';

// Stream ownership (the successor of redis-stream-client-go)
export {
  LBS_FIELD,
  StreamLease,
  StreamOwnershipClient,
  addStream,
  addStreams,
  defaultConsumerId,
  lbsGroup,
  lbsKey,
  ownershipQueueName,
  type ClaimJobData,
  type ClaimReason,
  type ClaimResult,
  type LbsEntry,
  type OwnershipNotification,
  type StreamAddedNotification,
  type StreamClaimedNotification,
  type StreamDisownedNotification,
  type StreamExpiredNotification,
  type StreamInfo,
  type StreamOwnershipClientOptions,
  type StreamOwnershipEvents,
  type SweepResult,
} from './ownership/index.js';

// The ingester: owned Redis streams into the publish queue
export {
  EVENT_FIELD,
  createIngester,
  deriveEventId,
  ingestGroup,
  type Ingester,
  type IngesterDeps,
} from './ingest/index.js';

// The HTTP server (createApp never listens)
export {
  BOARD_PATH,
  EVENTS_PATH,
  createApp,
  startServer,
  type AppDeps,
  type PublisherPing,
  type StartedServer,
} from './server/index.js';

// The real-time edge: SSE, WebSocket, recent events, subscribe tokens and the typed client
export {
  SOURCES_PATH,
  SUBSCRIBE_PATH,
  SseParser,
  SubscribeRefusedError,
  SubscribeTokenError,
  WS_PATH,
  createRealtimeEdge,
  createSubscribeToken,
  subscribe,
  verifySubscribeToken,
  type ClientReset,
  type MissingRange,
  type RealtimeEdge,
  type RealtimeEdgeDeps,
  type RecentEvent,
  type RecentEventsAnswer,
  type ResetInfo,
  type ResetReason,
  type RetentionOptions,
  type SseEvent,
  type SubscribeOptions,
  type SubscribeTokenOptions,
  type SubscriberNotification,
  type Subscription,
  type SubscriptionStats,
  type VerifiedToken,
} from './realtime/index.js';

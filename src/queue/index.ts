export {
  createPublishQueue,
  publishJobOptions,
  type PublishJobData,
  type CreatePublishQueueOptions,
} from './publish-queue.js';
export {
  enqueueEvent,
  enqueueEvents,
  enqueueValidated,
  queueDepth,
  queueFull,
  type EnqueueOptions,
  type EnqueuedEvent,
} from './enqueue.js';
export { KafkaBreaker, type KafkaBreakerOptions, type BreakerDecision } from './kafka-breaker.js';
export {
  createPublishProcessor,
  jobEventId,
  type PublishHooks,
  type PublishProcessorDeps,
} from './publish-processor.js';
export {
  PublishWorker,
  createPublishWorker,
  type PublishWorkerDeps,
  type PublishWorkerEvents,
} from './publish-worker.js';
export {
  COOLDOWN_LIMITER,
  cooldownRemainingMs,
  type RateLimitTtlReader,
} from './cooldown-limiter.js';

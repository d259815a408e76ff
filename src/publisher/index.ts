export { createKafkaClient, type KafkaClientOptions } from './kafka-client.js';
export {
  createKafkajsProducer,
  isRetriableKafkaError,
  type EventProducer,
  type KafkajsProducerOptions,
} from './event-producer.js';
export {
  KafkaSink,
  recordBytes,
  type KafkaSinkOptions,
  type KafkaSinkHealth,
} from './kafka-sink.js';
export { RedisNotifier, type RedisNotifierOptions, type NotifyItem } from './redis-notifier.js';
export {
  DualPublisher,
  createDualPublisher,
  type PublishResult,
  type DualPublisherOptions,
  type DualPublisherDeps,
} from './dual-publisher.js';

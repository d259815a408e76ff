import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { KafkaConnectionConfig } from '../config/index.js';

/** kafkajs settings a caller may choose; connection and security always come from the config. */
export type KafkaClientOptions = Omit<KafkaConfig, 'brokers' | 'ssl' | 'sasl' | 'clientId'> & {
  /** Appended to the configured client id, e.g. `doctor` → `bullmq-dualstream-doctor`. */
  clientIdSuffix?: string;
};

/**
 * The one place a kafkajs client is built from our configuration (brokers, TLS, SASL), so every
 * part (producer, readiness probe, doctor, replay) connects the same way.
 * @defaultValue logLevel NOTHING unless `options.logLevel` is given
 */
export function createKafkaClient(
  config: KafkaConnectionConfig,
  options: KafkaClientOptions = {},
): Kafka {
  const { clientIdSuffix, ...rest } = options;
  return new Kafka({
    logLevel: logLevel.NOTHING,
    ...rest,
    clientId: clientIdSuffix ? `${config.clientId}-${clientIdSuffix}` : config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    // Our config's SASL is one object type over the three mechanisms kafkajs accepts; kafkajs
    // types it as a discriminated union.
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
  });
}

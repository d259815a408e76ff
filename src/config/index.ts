export {
  loadConfig,
  type DualstreamConfig,
  type KafkaConnectionConfig,
  type EnvInput,
} from './config.js';
export { envSchema, type EnvVar } from './schema.js';

import { z } from 'zod';

const intFrom = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? def);

const boolFrom = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? def : ['1', 'true', 'yes', 'on'].includes(v)));

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

const brokers = z
  .string()
  .trim()
  .min(1, 'must list at least one broker')
  .transform((s) => s.split(',').map((b) => b.trim()))
  .pipe(
    z.array(
      z.string().regex(hostPort, {
        message: 'each broker must be host:port (comma-separated), e.g. 127.0.0.1:9092',
      }),
    ),
  );

/** An optional whole number from 1 to `max` (no default: unset means "the broker decides"). */
const optionalCount = (max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .optional();

const redisUrl = z
  .string()
  .trim()
  .refine(
    (s) =>
      (/^rediss?:\/\/[^\s]+$/.test(s) && URL.canParse(s)) ||
      /^redis(s)?\+cluster:\/\/([^\s,@/]+@)?[^\s,/]+:\d+(,[^\s,/]+:\d+)*\/?$/.test(s),
    {
      message:
        'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379, or a Redis Cluster as redis+cluster://host:port,host:port',
    },
  );

const name = (def: string) =>
  z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'may contain only letters, digits, ".", "_" and "-"')
    .optional()
    .transform((v) => v ?? def);

/**
 * The one schema over environment variables (and the CLI flags that override them). Keys are the
 * variable names, so every error names the variable at fault.
 */
export const envSchema = z.object({
  KAFKA_BROKERS: brokers.optional().transform((v) => v ?? ['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: name('bullmq-dualstream'),
  KAFKA_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'is not a valid Kafka topic name')
    .optional()
    .transform((v) => v ?? 'events'),
  KAFKA_SSL: boolFrom(false),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_CLIENT: z
    .enum(['kafkajs', 'platformatic'], { message: 'must be "kafkajs" or "platformatic"' })
    .optional()
    .transform((v) => v ?? 'kafkajs'),
  KAFKA_LINGER_MS: intFrom(0, 0, 10_000),
  KAFKA_BATCH_MAX_COUNT: intFrom(1000, 1, 100_000),
  KAFKA_BATCH_MAX_BYTES: intFrom(1_048_576, 1024, 256 * 1_048_576),
  KAFKA_MAX_INFLIGHT_BYTES: intFrom(64 * 1_048_576, 1024, 4096 * 1_048_576),
  KAFKA_FAILURE_THRESHOLD: intFrom(3, 1, 1000),
  KAFKA_COOLDOWN_MS: intFrom(5000, 100, 600_000),
  // Topic creation by the worker at start-up (and `dualstream topic create`); unset partitions
  // or replication take the broker's defaults (num.partitions, default.replication.factor).
  KAFKA_CREATE_TOPIC: boolFrom(true),
  KAFKA_TOPIC_PARTITIONS: optionalCount(100_000),
  KAFKA_TOPIC_REPLICATION: optionalCount(100),
  // min.insync.replicas set on a topic the worker creates; unset takes the broker's default.
  KAFKA_TOPIC_MIN_ISR: optionalCount(100),
  REDIS_URL: redisUrl.optional().transform((v) => v ?? 'redis://127.0.0.1:6379'),
  PUBSUB_REDIS_URL: redisUrl.optional(),
  // Letters, digits, `.`, `_`, `-`, and one `{hash tag}` (required on Redis Cluster).
  DUALSTREAM_PREFIX: z
    .string()
    .trim()
    .regex(
      /^[A-Za-z0-9._-]*(\{[A-Za-z0-9._-]+\})?[A-Za-z0-9._-]*$/,
      'may contain only letters, digits, ".", "_", "-" and one {hash tag}',
    )
    .refine((s) => s.length >= 1 && s.length <= 100, 'must be 1 to 100 characters')
    .optional()
    .transform((v) => v ?? 'bull'),
  DUALSTREAM_QUEUE: name('dualstream-publish'),
  DUALSTREAM_SERVICE: name('dualstream'),
  DUALSTREAM_CHANNEL_PREFIX: name('events'),
  WORKER_CONCURRENCY: intFrom(256, 1, 10_000),
  JOB_ATTEMPTS: intFrom(12, 1, 1000),
  BACKOFF_DELAY_MS: intFrom(1000, 1, 3_600_000),
  KEEP_COMPLETED_SECONDS: intFrom(86_400, 0),
  KEEP_COMPLETED_COUNT: intFrom(1_000_000, 0),
  MAX_QUEUE_DEPTH: intFrom(1_000_000, 1),
  ORDERING: z
    .enum(['source', 'none'], { message: 'must be "source" or "none"' })
    .optional()
    .transform((v) => v ?? 'source'),
  ORDER_ON_FAILURE: z
    .enum(['continue', 'block'], { message: 'must be "continue" or "block"' })
    .optional()
    .transform((v) => v ?? 'continue'),
  ORDER_WAIT_REPLICAS: intFrom(0, 0, 16),
  ORDER_WAIT_TIMEOUT_MS: intFrom(100, 1, 60_000),
  BACKPRESSURE_TIMEOUT_MS: intFrom(5000, 0, 600_000),
  MAX_PAYLOAD_BYTES: intFrom(1_048_576, 1, 64 * 1_048_576),
  LOCK_TTL_MS: intFrom(2000, 100, 600_000),
  LOCK_EXTEND_MS: intFrom(0, 0, 600_000),
  SWEEP_INTERVAL_MS: intFrom(5000, 100, 3_600_000),
  HOST: z
    .string()
    .trim()
    .min(1)
    .optional()
    .transform((v) => v ?? '127.0.0.1'),
  PORT: intFrom(3000, 0, 65_535),
  // No default: a standalone `worker`/`ingest` serves /metrics only when a port is given.
  METRICS_PORT: z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(65_535))
    .optional(),
  BOARD_USER: z.string().min(1).optional(),
  BOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  BOARD_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DUALSTREAM_INSECURE: boolFrom(false),
  EXTRA_QUEUES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  // The real-time edge (docs/realtime.md): retained history and subscriptions.
  HISTORY_ENABLED: boolFrom(true),
  HISTORY_MAX_EVENTS: intFrom(1000, 1, 1_000_000),
  HISTORY_MAX_BYTES: intFrom(1_048_576, 1024, 1024 * 1_048_576),
  HISTORY_MAX_AGE_SECONDS: intFrom(3600, 1, 30 * 86_400),
  HISTORY_TYPE_MAX_EVENTS: intFrom(10_000, 1, 10_000_000),
  SUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SUBSCRIBE_CLIENT_BUFFER_BYTES: intFrom(1_048_576, 1024, 1024 * 1_048_576),
  SUBSCRIBE_HEARTBEAT_MS: intFrom(15_000, 100, 600_000),
  SUBSCRIBE_RECOVER_LIMIT: intFrom(10_000, 1, 1_000_000),
  BODY_LIMIT_BYTES: intFrom(5 * 1_048_576, 1024, 256 * 1_048_576),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .optional()
    .transform((v) => v ?? 'info'),
});

/** Names of all environment variables the configuration reads. */
export type EnvVar = keyof z.input<typeof envSchema>;

/** The parsed environment, keyed by variable name. */
export type ParsedEnv = z.output<typeof envSchema>;

import { ConfigError, type ConfigIssue } from '../errors.js';
import { envSchema, type EnvVar, type ParsedEnv } from './schema.js';

/** Kafka connection settings, passed through to the client. */
export interface KafkaConnectionConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
}

/**
 * The complete, validated configuration. Built once by {@link loadConfig} and passed to every
 * factory, so no module reads `process.env` itself.
 */
export interface DualstreamConfig {
  kafka: KafkaConnectionConfig & {
    /** Default topic for events. Default: `events` */
    topic: string;
    /**
     * The Kafka client behind the producer: `kafkajs`, or `platformatic` (`@platformatic/kafka`,
     * maintained, about half the CPU per record; see docs/performance.md). Default: `kafkajs`
     */
    client: 'kafkajs' | 'platformatic';
    /**
     * Linger window for coalescing produce requests; 0 is adaptive batching (send at once when
     * no request is in flight, coalesce while one is). Default: 0
     */
    lingerMs: number;
    /** Records per produce request at most. Default: 1000 */
    batchMaxCount: number;
    /** Bytes per produce request at most. Default: 1 MiB */
    batchMaxBytes: number;
    /** Bytes accepted but not yet acknowledged at most. Default: 64 MiB */
    maxInflightBytes: number;
    /** Consecutive failed produce requests before the worker cools down. Default: 3 */
    failureThreshold: number;
    /** Cool-down when Kafka looks down. Default: 5000 ms */
    cooldownMs: number;
    /** Creating `topic` when it is missing (worker start-up, `dualstream topic create`). */
    topicCreation: {
      /** The worker creates the topic at start-up. Default: true */
      enabled: boolean;
      /** @defaultValue the broker's `num.partitions` */
      partitions?: number;
      /** @defaultValue the broker's `default.replication.factor` */
      replicationFactor?: number;
      /**
       * `min.insync.replicas` of the new topic: with acks=all, how many replicas must have a
       * record before it counts as written. @defaultValue the broker's `min.insync.replicas`
       */
      minInsyncReplicas?: number;
    };
  };
  redis: {
    /** Redis holding the BullMQ queues. Default: `redis://127.0.0.1:6379` */
    url: string;
    /** Redis receiving Pub/Sub notifications. Default: same as `url` */
    pubsubUrl: string;
    /** BullMQ key prefix. Default: `bull` */
    prefix: string;
  };
  queue: {
    /** Default: `dualstream-publish` */
    name: string;
    /** Default: 256 */
    concurrency: number;
    /** Default: 12 */
    attempts: number;
    /** Base delay of the exponential backoff. Default: 1000 ms */
    backoffDelayMs: number;
    /** Completed jobs are kept this long, which is also the jobId de-duplication window. Default: 86400 s */
    keepCompletedSeconds: number;
    /** Default: 1 000 000 */
    keepCompletedCount: number;
    /** Default: 1 000 000 */
    maxQueueDepth: number;
    /** Default: 5000 ms */
    backpressureTimeoutMs: number;
  };
  order: {
    /**
     * `source`: events of one source reach Kafka in enqueue order, numbered by a gap-free
     * `source-seq`, with any number of workers. `none`: unordered, for maximum throughput.
     * Every worker of a queue must use the same mode. Default: `source`
     */
    mode: 'source' | 'none';
    /**
     * What a job that fails for good does to its source: `continue` (it never gets a seq; later
     * events go on) or `block` (the source is held until the job is retried or removed).
     * Default: `continue`
     */
    onFailure: 'continue' | 'block';
    /**
     * Replicas of the queue Redis that must have a job's admission (and its seq) before its
     * record is sent to Kafka (`WAIT`, one per batch), so that a failover cannot repeat a seq.
     * 0: do not wait. Default: 0
     */
    waitReplicas: number;
    /** How long one replica wait may take before the batch is sent anyway, ms. Default: 100 */
    waitTimeoutMs: number;
  };
  events: {
    /** Default: 1 MiB */
    maxPayloadBytes: number;
    /** Pub/Sub channels are `<channelPrefix>:<sourceType>:<sourceId>`. Default: `events` */
    channelPrefix: string;
  };
  ownership: {
    /** Default: `dualstream` */
    service: string;
    /** Default: 2000 ms */
    lockTtlMs: number;
    /** Default: lockTtlMs / 3 */
    extendIntervalMs: number;
    /** Default: 5000 ms */
    sweepIntervalMs: number;
  };
  server: {
    host: string;
    port: number;
    /**
     * Port of the metrics-only endpoint (`/metrics`, `/healthz`) of a standalone `worker` or
     * `ingest` process; 0 = ephemeral. Processes running the HTTP server ignore it.
     * @defaultValue absent (no metrics endpoint)
     */
    metricsPort?: number;
    user?: string;
    password?: string;
    token?: string;
    insecure: boolean;
    extraQueues: string[];
    bodyLimitBytes: number;
  };
  /** The real-time edge: retained history, SSE/WebSocket subscriptions (docs/realtime.md). */
  edge: {
    history: {
      /** Retain notified events in the Pub/Sub Redis (needs `ORDERING=source`). @defaultValue true */
      enabled: boolean;
      /** @defaultValue 1000 events per source */
      maxEvents: number;
      /** @defaultValue 1 MiB per source */
      maxBytes: number;
      /** @defaultValue 3 600 000 ms (1 h) */
      maxAgeMs: number;
      /** Notifications kept per source type for `<sourceType>:*` resumes. @defaultValue 10 000 */
      typeMaxEvents: number;
    };
    /** HMAC secret of browser subscribe tokens (`?token=`). @defaultValue absent (no tokens) */
    subscribeSecret?: string;
    /** Bytes buffered for one slow client before it is dropped. @defaultValue 1 MiB */
    clientBufferBytes: number;
    /** Heartbeat comment interval. @defaultValue 15 000 ms */
    heartbeatMs: number;
    /** Messages replayed at most per channel on a resume. @defaultValue 10 000 */
    recoverLimit: number;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Environment-like input: variable name to raw string. */
export type EnvInput = Partial<Record<EnvVar, string | undefined>> &
  Record<string, string | undefined>;

/**
 * Parse configuration once from environment variables, with `overrides` (e.g. CLI flags) taking
 * precedence. Throws {@link ConfigError} naming every variable at fault.
 */
export function loadConfig(
  env: EnvInput = process.env,
  overrides: Partial<Record<EnvVar, string>> = {},
): DualstreamConfig {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = (overrides as Record<string, string | undefined>)[key] ?? env[key];
    raw[key] = v === '' && key !== 'DUALSTREAM_INSECURE' ? undefined : v;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        variable: String(i.path[0] ?? '(config)'),
        message: describe(i.message, raw[String(i.path[0])]),
      })),
    );
  }
  const e = parsed.data;
  const issues = crossCheck(e);
  if (issues.length > 0) throw new ConfigError(issues);
  return toConfig(e);
}

/** A `redis+cluster://` (or `rediss+cluster://`) URL: ioredis' Cluster client is used. */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

function describe(message: string, value: string | undefined): string {
  return value === undefined ? message : `${message} (got ${JSON.stringify(value)})`;
}

function crossCheck(e: ParsedEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (e.KAFKA_SASL_MECHANISM && (!e.KAFKA_SASL_USERNAME || !e.KAFKA_SASL_PASSWORD)) {
    issues.push({
      variable: 'KAFKA_SASL_USERNAME',
      message: 'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with KAFKA_SASL_MECHANISM',
    });
  }
  const tagged = /\{[^}]+\}/.test(e.DUALSTREAM_PREFIX);
  if (isClusterUrl(e.REDIS_URL) && !tagged) {
    issues.push({
      variable: 'DUALSTREAM_PREFIX',
      message: `must carry a hash tag on Redis Cluster, e.g. {${e.DUALSTREAM_PREFIX}}, so that every key of a queue lands in one slot (BullMQ's scripts need it)`,
    });
  } else if (
    e.PUBSUB_REDIS_URL &&
    isClusterUrl(e.PUBSUB_REDIS_URL) &&
    e.HISTORY_ENABLED &&
    e.ORDERING === 'source' &&
    !tagged
  ) {
    // The history script touches four keys of a source and its type at once: one slot only,
    // or every notification would fail with CROSSSLOT.
    issues.push({
      variable: 'DUALSTREAM_PREFIX',
      message: `must carry a hash tag when PUBSUB_REDIS_URL is a Redis Cluster, e.g. {${e.DUALSTREAM_PREFIX}}, so that the real-time edge's history keys land in one slot (or set HISTORY_ENABLED=false)`,
    });
  }
  if ((e.BOARD_USER === undefined) !== (e.BOARD_PASSWORD === undefined)) {
    issues.push({
      variable: e.BOARD_USER === undefined ? 'BOARD_USER' : 'BOARD_PASSWORD',
      message: 'BOARD_USER and BOARD_PASSWORD must be set together',
    });
  }
  if (e.LOCK_EXTEND_MS !== 0 && e.LOCK_EXTEND_MS >= e.LOCK_TTL_MS) {
    issues.push({ variable: 'LOCK_EXTEND_MS', message: 'must be smaller than LOCK_TTL_MS' });
  }
  if (e.KAFKA_BATCH_MAX_BYTES > e.KAFKA_MAX_INFLIGHT_BYTES) {
    issues.push({
      variable: 'KAFKA_MAX_INFLIGHT_BYTES',
      message: 'must be at least KAFKA_BATCH_MAX_BYTES',
    });
  }
  return issues;
}

function toConfig(e: ParsedEnv): DualstreamConfig {
  return {
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      ssl: e.KAFKA_SSL,
      ...(e.KAFKA_SASL_MECHANISM
        ? {
            sasl: {
              mechanism: e.KAFKA_SASL_MECHANISM,
              username: e.KAFKA_SASL_USERNAME ?? '',
              password: e.KAFKA_SASL_PASSWORD ?? '',
            },
          }
        : {}),
      topic: e.KAFKA_TOPIC,
      client: e.KAFKA_CLIENT,
      lingerMs: e.KAFKA_LINGER_MS,
      batchMaxCount: e.KAFKA_BATCH_MAX_COUNT,
      batchMaxBytes: e.KAFKA_BATCH_MAX_BYTES,
      maxInflightBytes: e.KAFKA_MAX_INFLIGHT_BYTES,
      failureThreshold: e.KAFKA_FAILURE_THRESHOLD,
      cooldownMs: e.KAFKA_COOLDOWN_MS,
      topicCreation: {
        enabled: e.KAFKA_CREATE_TOPIC,
        ...(e.KAFKA_TOPIC_PARTITIONS !== undefined ? { partitions: e.KAFKA_TOPIC_PARTITIONS } : {}),
        ...(e.KAFKA_TOPIC_REPLICATION !== undefined
          ? { replicationFactor: e.KAFKA_TOPIC_REPLICATION }
          : {}),
        ...(e.KAFKA_TOPIC_MIN_ISR !== undefined
          ? { minInsyncReplicas: e.KAFKA_TOPIC_MIN_ISR }
          : {}),
      },
    },
    redis: {
      url: e.REDIS_URL,
      pubsubUrl: e.PUBSUB_REDIS_URL ?? e.REDIS_URL,
      prefix: e.DUALSTREAM_PREFIX,
    },
    queue: {
      name: e.DUALSTREAM_QUEUE,
      concurrency: e.WORKER_CONCURRENCY,
      attempts: e.JOB_ATTEMPTS,
      backoffDelayMs: e.BACKOFF_DELAY_MS,
      keepCompletedSeconds: e.KEEP_COMPLETED_SECONDS,
      keepCompletedCount: e.KEEP_COMPLETED_COUNT,
      maxQueueDepth: e.MAX_QUEUE_DEPTH,
      backpressureTimeoutMs: e.BACKPRESSURE_TIMEOUT_MS,
    },
    order: {
      mode: e.ORDERING,
      onFailure: e.ORDER_ON_FAILURE,
      waitReplicas: e.ORDER_WAIT_REPLICAS,
      waitTimeoutMs: e.ORDER_WAIT_TIMEOUT_MS,
    },
    events: { maxPayloadBytes: e.MAX_PAYLOAD_BYTES, channelPrefix: e.DUALSTREAM_CHANNEL_PREFIX },
    ownership: {
      service: e.DUALSTREAM_SERVICE,
      lockTtlMs: e.LOCK_TTL_MS,
      extendIntervalMs: e.LOCK_EXTEND_MS || Math.max(1, Math.floor(e.LOCK_TTL_MS / 3)),
      sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    },
    server: {
      host: e.HOST,
      port: e.PORT,
      ...(e.METRICS_PORT !== undefined ? { metricsPort: e.METRICS_PORT } : {}),
      ...(e.BOARD_USER ? { user: e.BOARD_USER } : {}),
      ...(e.BOARD_PASSWORD ? { password: e.BOARD_PASSWORD } : {}),
      ...(e.BOARD_TOKEN ? { token: e.BOARD_TOKEN } : {}),
      insecure: e.DUALSTREAM_INSECURE,
      extraQueues: e.EXTRA_QUEUES,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
    },
    edge: {
      history: {
        enabled: e.HISTORY_ENABLED,
        maxEvents: e.HISTORY_MAX_EVENTS,
        maxBytes: e.HISTORY_MAX_BYTES,
        maxAgeMs: e.HISTORY_MAX_AGE_SECONDS * 1000,
        typeMaxEvents: e.HISTORY_TYPE_MAX_EVENTS,
      },
      ...(e.SUBSCRIBE_SECRET ? { subscribeSecret: e.SUBSCRIBE_SECRET } : {}),
      clientBufferBytes: e.SUBSCRIBE_CLIENT_BUFFER_BYTES,
      heartbeatMs: e.SUBSCRIBE_HEARTBEAT_MS,
      recoverLimit: e.SUBSCRIBE_RECOVER_LIMIT,
    },
    logLevel: e.LOG_LEVEL,
  };
}

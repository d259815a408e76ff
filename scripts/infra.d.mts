// Types for scripts/infra.mjs (plain JavaScript so that it runs before `tsc`).

/** Newest Kafka release verified with kafkajs 2.2.4; overridden by KAFKA_VERSION. */
export declare const DEFAULT_KAFKA_VERSION: string;

export interface InfraOptions {
  /** Comma-separated brokers; only the first is managed. @defaultValue env KAFKA_BROKERS or `127.0.0.1:9092` */
  kafkaBrokers?: string;
  /** Overrides the host of the first broker. */
  kafkaHost?: string;
  /** Overrides the port of the first broker. */
  kafkaPort?: number;
  /** KRaft controller listener port. @defaultValue env KAFKA_CONTROLLER_PORT or broker port + 1 */
  controllerPort?: number;
  /** Apache Kafka release to run. @defaultValue env KAFKA_VERSION or {@link DEFAULT_KAFKA_VERSION} */
  kafkaVersion?: string;
  /** @defaultValue env REDIS_URL or `redis://127.0.0.1:6379` */
  redisUrl?: string;
  /** Where jars are cached. @defaultValue `${XDG_CACHE_HOME:-~/.cache}/bullmq-dualstream` */
  cacheDir?: string;
  /** Pid files, logs and KRaft data. @defaultValue env DUALSTREAM_RUN_DIR or `<cacheDir>/run` */
  runDir?: string;
  /**
   * Nodes of the managed Kafka: 1 is the single development broker; more run a replicated KRaft
   * cluster of combined broker+controller nodes (replication min(3, n), min.insync.replicas 2
   * from 3 nodes). @defaultValue env KAFKA_NODES or 1
   */
  kafkaNodes?: number;
  /**
   * Client port of cluster node 1; node i serves on this + 2(i-1), its controller one above.
   * KAFKA_BROKERS is not used for a cluster. @defaultValue kafkaPort, env KAFKA_CLUSTER_PORT or 19092
   */
  clusterPort?: number;
  /**
   * Run a Redis Cluster (3 masters, 3 replicas) on `redisClusterPort` and up instead of using
   * `redisUrl`. @defaultValue false
   */
  redisCluster?: boolean;
  /** First of the six Redis Cluster ports. @defaultValue env REDIS_CLUSTER_PORT or 17000 */
  redisClusterPort?: number;
  /** Manage Kafka. @defaultValue true */
  kafka?: boolean;
  /** Manage Redis. @defaultValue true */
  redis?: boolean;
  /** How long a starting broker may take to serve metadata. @defaultValue 90000 */
  startTimeoutMs?: number;
  /** `docker` runs `docker compose` when an engine answers. @defaultValue env DUALSTREAM_INFRA */
  mode?: 'local' | 'docker';
  /** Silences progress lines (ignored when `log` is given). @defaultValue false */
  quiet?: boolean;
  /** Receives progress lines. @defaultValue console.log with an `[infra]` prefix */
  log?: (line: string) => void;
}

export interface KafkaUpResult {
  /** host:port of the broker. */
  address: string;
  /** A broker already answered; nothing was started. */
  reused: boolean;
  /** The broker runs from this script's pid file (so infraDown/killKafka can stop it). */
  managed: boolean;
  version: string | undefined;
  pid: number | undefined;
  /** A fresh KRaft storage dir was formatted (false when existing data was kept). */
  formatted: boolean;
  /** Maven resolved the jars during this call. */
  downloaded: boolean;
  downloadMs: number;
  /** From spawning the JVM until metadata and the group coordinator answered. */
  startMs: number;
  totalMs: number;
  logFile: string | undefined;
  /** Every node of a cluster (`kafkaNodes` > 1); `address` then lists them all, comma-separated. */
  nodes?: Array<{
    id: number;
    address: string;
    pid: number | undefined;
    logFile: string | undefined;
  }>;
  /** Client addresses of the cluster's nodes. */
  brokers?: string[];
}

export interface RedisUpResult {
  /** `redis://…`, or `redis+cluster://…` for a Redis Cluster. */
  url: string;
  reused: boolean;
  managed?: boolean;
  pid?: number | undefined;
  startMs: number;
  /** A Redis Cluster's node pids by port. */
  pids?: Record<number, number | undefined>;
}

export interface InfraUpResult {
  mode: 'local' | 'docker';
  kafka: KafkaUpResult | undefined;
  redis: RedisUpResult | undefined;
  totalMs: number;
}

export interface InfraDownOptions extends InfraOptions {
  /** Also delete the broker's run dir (KRaft data, logs). @defaultValue false */
  clean?: boolean;
}

export interface InfraDownResult {
  kafka: 'stopped' | 'not-running' | 'not-managed';
  redis: 'stopped' | 'not-managed';
  cleaned: boolean;
}

export type ProbeState = 'kafka' | 'redis' | 'closed' | 'other';

export interface ProbeResult {
  state: ProbeState;
  detail: string;
}

export interface InfraStatus {
  kafka: {
    address: string;
    state: ProbeState;
    detail: string;
    managed: boolean;
    pid: number | undefined;
    version: string | undefined;
    logFile: string | undefined;
    nodes?: Array<{ id: number; address: string; state: ProbeState; pid: number | undefined }>;
  };
  redis: { url: string; state: ProbeState; detail: string; managed: boolean };
}

export interface KillKafkaOptions extends NodeOptions {
  /** @defaultValue 'SIGKILL' */
  signal?: NodeJS.Signals;
}

export interface NodeOptions extends InfraOptions {
  /** Which node of a cluster (1 to `kafkaNodes`); required when `kafkaNodes` > 1. */
  node?: number;
}

/** Makes sure Kafka and Redis answer, starting local ones where needed. Safe to repeat. */
export declare function infraUp(opts?: InfraOptions): Promise<InfraUpResult>;
/** Stops only what infraUp started. */
export declare function infraDown(opts?: InfraDownOptions): Promise<InfraDownResult>;
/** Reports what answers on the configured ports and what this script manages. */
export declare function infraStatus(opts?: InfraOptions): Promise<InfraStatus>;
/** Fault injection: kills the managed broker (SIGKILL by default); its data dir is kept. */
export declare function killKafka(
  opts?: KillKafkaOptions,
): Promise<{ pid: number; signal: NodeJS.Signals }>;
/** Starts the managed broker again on the same storage dir (topics and offsets survive). */
export declare function startKafka(opts?: NodeOptions): Promise<KafkaUpResult>;
/** The `redis+cluster://` URL and the six ports of the Redis Cluster that `opts` describe. */
export declare function redisClusterInfo(opts?: InfraOptions): { url: string; ports: number[] };
/** Fault injection: kill -9 (by default) the Redis Cluster node on `opts.port`. */
export declare function killRedisClusterNode(
  opts: InfraOptions & { port: number; signal?: NodeJS.Signals },
): Promise<number>;
/** Start the Redis Cluster node on `opts.port` again; it rejoins (as a replica if failed over). */
export declare function startRedisClusterNode(
  opts: InfraOptions & { port: number },
): Promise<number | undefined>;
/** Client addresses of every managed node (`host:port`; one for the single broker). */
export declare function kafkaBrokerList(opts?: InfraOptions): string[];
/** Raw ApiVersions v0 probe: `kafka`, `closed` (nothing listens) or `other` (not Kafka). */
export declare function probeKafka(
  host: string,
  port: number,
  timeoutMs?: number,
): Promise<ProbeResult>;
/** Inline PING probe: `redis`, `closed` or `other`. */
export declare function probeRedis(
  host: string,
  port: number,
  timeoutMs?: number,
): Promise<ProbeResult>;
/** Splits `host:port` or `[v6]:port`. */
export declare function parseHostPort(
  hostPort: string,
  defaultPort: number,
): { host: string; port: number };

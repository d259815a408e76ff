/** Options of one chaos run; `chaosOptionsFromEnv` reads them from CHAOS_* variables. */
export interface ChaosOptions {
  /** Short variant (the one inside `npm test`). */
  short: boolean;
  /** Load phase length, seconds (faults happen inside it; it stretches if they take longer). */
  durationS: number;
  /** Valid events offered per second over all entry points. */
  rate: number;
  /** Invalid inputs per entry point. */
  hostilePerEntry: number;
  /** Seed of the hostile generators (printed, so a run can be repeated). */
  seed: number;
  /** How long Kafka stays down, seconds. */
  kafkaDownS: number;
  /** How long the Pub/Sub Redis stays down, seconds. */
  pubsubDownS: number;
  /** Lock TTL of the ingesters, ms (the SIGSTOP lasts 2.5 TTLs). */
  lockTtlMs: number;
  workers: number;
  ingesters: number;
  streams: number;
  /** Bounded wait for the drain, seconds. */
  drainTimeoutS: number;
  /** Port of the private Kafka broker (the controller takes port + 1); 0 = pick a free pair. */
  kafkaPort: number;
  /**
   * Run against a private 3-node KRaft cluster (replication 3, min.insync.replicas 2) instead of
   * one broker, and add a kill -9 of the node leading the most partitions (`--cluster`).
   */
  cluster: boolean;
  /**
   * Put the queue Redis (queues, order state, stream ownership, data streams) on a private
   * 3-master, 3-replica Redis Cluster and add a kill -9 of the master serving the queue's slot.
   * On with `cluster` unless `CHAOS_REDIS_CLUSTER=0`; `CHAOS_REDIS_CLUSTER=1` alone takes it with
   * one broker.
   */
  redisCluster: boolean;
  /** Keep the broker run dir, Redis keys and topic after the run (debugging). */
  keep: boolean;
  /** Directory for the JSON report and the child logs. */
  artifactsDir: string;
  /** Print the orchestrator's timeline lines. */
  verbose: boolean;
}

function num(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${name} must be a non-negative number (got "${raw}")`);
  return n;
}

/** Defaults of the full run (`npm run chaos`) and of the short one (`CHAOS_SHORT=1`). */
export function chaosOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ChaosOptions> = {},
): ChaosOptions {
  const short = overrides.short ?? ['1', 'true', 'yes'].includes(env.CHAOS_SHORT ?? '');
  const cluster = overrides.cluster ?? ['1', 'true', 'yes'].includes(env.CHAOS_CLUSTER ?? '');
  const redisClusterEnv = env.CHAOS_REDIS_CLUSTER ?? '';
  const o: ChaosOptions = {
    short,
    durationS: num(env, 'CHAOS_DURATION_S', short ? 35 : 150),
    rate: num(env, 'CHAOS_RATE', short ? 60 : 150),
    hostilePerEntry: num(env, 'CHAOS_HOSTILE', short ? 200 : 1000),
    seed: num(env, 'CHAOS_SEED', Date.now() % 1_000_000),
    kafkaDownS: num(env, 'CHAOS_KAFKA_DOWN_S', short ? 5 : 15),
    pubsubDownS: num(env, 'CHAOS_PUBSUB_DOWN_S', short ? 5 : 10),
    lockTtlMs: num(env, 'CHAOS_LOCK_TTL_MS', 2000),
    workers: Math.max(2, num(env, 'CHAOS_WORKERS', 2)),
    ingesters: Math.max(3, num(env, 'CHAOS_INGESTERS', 3)),
    streams: Math.max(3, num(env, 'CHAOS_STREAMS', short ? 6 : 9)),
    drainTimeoutS: num(env, 'CHAOS_DRAIN_TIMEOUT_S', short ? 60 : 120),
    kafkaPort: num(env, 'CHAOS_KAFKA_PORT', 0),
    cluster,
    redisCluster: redisClusterEnv === '' ? cluster : ['1', 'true', 'yes'].includes(redisClusterEnv),
    keep: ['1', 'true', 'yes'].includes(env.CHAOS_KEEP ?? ''),
    artifactsDir: env.CHAOS_ARTIFACTS_DIR ?? 'test-artifacts',
    verbose: env.CHAOS_QUIET !== '1',
  };
  return { ...o, ...overrides };
}

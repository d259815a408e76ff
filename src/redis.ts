import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link createRedis}. */
export interface CreateRedisOptions {
  /** Connection name shown by CLIENT LIST. */
  name?: string;
  /**
   * For BullMQ workers and blocking readers: `maxRetriesPerRequest: null` so commands wait for a
   * reconnect instead of failing. For request paths that must fail fast, leave false.
   * @defaultValue false
   */
  blocking?: boolean;
  /** Extra ioredis options (TLS, AUTH, ...), applied last. */
  extra?: RedisOptions;
}

/**
 * Create an ioredis client from a `redis://` / `rediss://` URL. TLS, user and password in the URL
 * pass through.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 3,
    enableReadyCheck: true,
    // Reconnect forever with a capped delay: Redis outages are survived, not fatal.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...options.extra,
  });
}

/**
 * Create consumer group `group` on stream `key` (and the stream, when missing), reading from the
 * start: entries added before the first consumer started are delivered too. An existing group is
 * left as it is.
 */
export async function ensureGroup(redis: Redis, key: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String(err).includes('BUSYGROUP')) throw err;
  }
}

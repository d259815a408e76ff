import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { toError } from './async.js';
import { isClusterUrl } from './config/config.js';

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
 * pass through. A `redis+cluster://host:port,host:port` URL (`rediss+cluster://` for TLS) gives
 * ioredis' Cluster client, seeded with those nodes.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): Redis {
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    maxRetriesPerRequest: options.blocking ? null : 3,
    enableReadyCheck: true,
    // Reconnect forever with a capped delay: Redis outages are survived, not fatal.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...options.extra,
  };
  if (!isClusterUrl(url)) return new Redis(url, redisOptions);
  const { nodes, username, password, tls } = parseClusterUrl(url);
  const cluster = new Cluster(nodes, {
    redisOptions: {
      ...redisOptions,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls: {} } : {}),
    },
    enableReadyCheck: true,
    clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
    // A failover takes cluster-node-timeout plus an election: keep retrying through it.
    retryDelayOnClusterDown: 300,
    retryDelayOnFailover: 200,
  });
  // Cluster answers every command this package sends (keys of one queue share a hash-tagged
  // slot; see config.ts), and BullMQ takes either client, so callers keep one type.
  return cluster as unknown as Redis;
}

function parseClusterUrl(url: string): {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
} {
  const tls = url.startsWith('rediss+');
  let rest = url.replace(/^rediss?\+cluster:\/\//, '').replace(/\/$/, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(':');
    username = decodeURIComponent(colon >= 0 ? auth.slice(0, colon) : '') || undefined;
    password = decodeURIComponent(colon >= 0 ? auth.slice(colon + 1) : auth) || undefined;
  }
  const nodes = rest.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
  });
  return { nodes, ...(username ? { username } : {}), ...(password ? { password } : {}), tls };
}

/**
 * A command's outcome in the shape of one `pipeline.exec()` reply, `[error, result]`: on Redis
 * Cluster, keys of many slots are sent as separate commands where one Redis takes a pipeline, and
 * callers read the replies the same way.
 */
export function asPipelineReply(command: Promise<unknown>): Promise<[Error | null, unknown]> {
  return command.then(
    (result): [Error | null, unknown] => [null, result],
    (err: unknown): [Error | null, unknown] => [toError(err), null],
  );
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

/** Redis error replies that mean "not now" (a failover, a restart, a resharding), not "never". */
const TRANSIENT_REPLIES = ['CLUSTERDOWN', 'TRYAGAIN', 'LOADING', 'READONLY', 'MASTERDOWN'];

/** Messages of ioredis errors raised while a connection is lost or being re-established. */
const TRANSIENT_MESSAGES = [
  'Connection is closed',
  'Too many Cluster redirections',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Failed to refresh slots cache',
];

/** Socket errors of a connection that went away. */
const TRANSIENT_CODES = ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN'];

/**
 * Whether `err` comes from Redis being briefly unavailable (a connection lost, a Redis Cluster
 * failover under way) rather than from the command itself: worth the same command again later.
 */
export function isTransientRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { message } = err;
  const code = (err as { code?: unknown }).code;
  return (
    TRANSIENT_REPLIES.some((r) => message.startsWith(r)) ||
    TRANSIENT_MESSAGES.some((m) => message.includes(m)) ||
    (typeof code === 'string' && TRANSIENT_CODES.includes(code))
  );
}

/** Delete every key matching a `SCAN` pattern (on this node); returns how many were deleted. */
export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) removed += await redis.del(...keys);
  } while (cursor !== '0');
  return removed;
}

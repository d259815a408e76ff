import { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { DualstreamConfig } from '../config/index.js';
import { orderKeys } from '../order/index.js';
import { mergeKeyspaceFlags } from '../ownership/index.js';
import { createKafkaClient } from '../publisher/kafka-client.js';
import { inspectTopic } from '../publisher/topic-admin.js';
import { createRedis } from '../redis.js';
import { action, EXIT } from './errors.js';
import { addConfigFlags, configFrom } from './options.js';
import type { CheckLine } from './check-line.js';
import { topicCheck } from './topic-check.js';

export type { CheckLine } from './check-line.js';

const GROUPS = ['connection'] as const;

/** BullMQ 6 refuses Redis below this version. */
export const REDIS_MIN_VERSION = '5.0.0';
/** BullMQ recommends at least this version; older ones get a warning. */
export const REDIS_RECOMMENDED_VERSION = '6.2.0';

/** Compare dotted versions numerically; negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Check a `notify-keyspace-events` value for what lock-expiry detection needs (E and x). */
export function keyspaceEventsCheck(flags: string): CheckLine {
  const hasE = flags.includes('E');
  const hasX = flags.includes('x') || flags.includes('A');
  if (hasE && hasX) {
    return {
      status: 'OK',
      name: 'keyspace events',
      detail: `notify-keyspace-events="${flags}" has E and x`,
    };
  }
  return {
    status: 'WARN',
    name: 'keyspace events',
    detail: `notify-keyspace-events="${flags}" lacks ${[hasE ? '' : 'E', hasX ? '' : 'x'].join('')}: lock expiries are only found by the periodic sweep (slower failover)`,
    fix: `redis-cli CONFIG SET notify-keyspace-events "${mergeKeyspaceFlags(flags)}" (the ingester adds them itself when CONFIG is allowed)`,
  };
}

/** Hide the password of a redis:// URL. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function probeRedis(
  url: string,
  name: string,
): { redis: Redis; lastError: () => string | undefined } {
  let last: string | undefined;
  const r = createRedis(url, {
    name,
    extra: {
      retryStrategy: () => null,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
    },
  });
  // The command error only says "Connection is closed"; the connection error says why.
  r.on('error', (err: Error) => (last = err.message || (err as NodeJS.ErrnoException).code));
  return { redis: r, lastError: () => last };
}

async function redisChecks(url: string, label: string, full: boolean): Promise<CheckLine[]> {
  const { redis, lastError } = probeRedis(url, `dualstream-doctor-${label}`);
  const lines: CheckLine[] = [];
  try {
    try {
      await redis.ping();
      lines.push({ status: 'OK', name: label, detail: `${redactUrl(url)} answers PING` });
    } catch (err) {
      lines.push({
        status: 'FAIL',
        name: label,
        detail: `${redactUrl(url)}: ${lastError() ?? (err as Error).message}`,
        fix: `start Redis (dualstream infra up, for development) or point ${label === 'redis' ? 'REDIS_URL' : 'PUBSUB_REDIS_URL'} at a running one`,
      });
      return lines;
    }
    if (!full) return lines;
    const info = await redis.info('server');
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1]?.trim() ?? '0';
    if (compareVersions(version, REDIS_MIN_VERSION) < 0) {
      lines.push({
        status: 'FAIL',
        name: 'redis version',
        detail: `${version} < ${REDIS_MIN_VERSION} (BullMQ minimum)`,
        fix: 'upgrade Redis to 7.x',
      });
    } else if (compareVersions(version, REDIS_RECOMMENDED_VERSION) < 0) {
      lines.push({
        status: 'WARN',
        name: 'redis version',
        detail: `${version} < ${REDIS_RECOMMENDED_VERSION} (BullMQ recommended)`,
        fix: 'upgrade Redis to 7.x',
      });
    } else {
      lines.push({
        status: 'OK',
        name: 'redis version',
        detail: `${version} (>= ${REDIS_RECOMMENDED_VERSION})`,
      });
    }
    let policy: string | undefined;
    let keyspace: string | undefined;
    try {
      policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
      keyspace = ((await redis.config('GET', 'notify-keyspace-events')) as string[])[1];
    } catch (err) {
      lines.push({
        status: 'WARN',
        name: 'redis config',
        detail: `CONFIG GET is not allowed (${(err as Error).message}); cannot check maxmemory-policy and notify-keyspace-events`,
        fix: 'check with your provider that maxmemory-policy is noeviction; without keyspace events failover relies on the sweep',
      });
      return lines;
    }
    lines.push(
      policy === 'noeviction'
        ? { status: 'OK', name: 'maxmemory-policy', detail: 'noeviction' }
        : {
            status: 'FAIL',
            name: 'maxmemory-policy',
            detail: `${policy ?? '?'}: Redis may evict queue keys and lose jobs`,
            fix: 'redis-cli CONFIG SET maxmemory-policy noeviction (and put it in redis.conf)',
          },
    );
    lines.push(keyspaceEventsCheck(keyspace ?? ''));
    return lines;
  } finally {
    redis.disconnect();
  }
}

async function kafkaChecks(config: DualstreamConfig): Promise<CheckLine[]> {
  const kafka = createKafkaClient(config.kafka, {
    clientIdSuffix: 'doctor',
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 1 },
  });
  const admin = kafka.admin();
  const lines: CheckLine[] = [];
  const brokers = config.kafka.brokers.join(',');
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    lines.push({
      status: 'OK',
      name: 'kafka',
      detail: `${brokers}: ${cluster.brokers.length} broker(s), controller ${cluster.controller ?? '?'}`,
    });
  } catch (err) {
    lines.push({
      status: 'FAIL',
      name: 'kafka',
      detail: `${brokers}: ${(err as Error).message}`,
      fix: 'start Kafka (dualstream infra up, for development) or set KAFKA_BROKERS (and KAFKA_SSL / KAFKA_SASL_* for a secured cluster)',
    });
    await admin.disconnect().catch(() => undefined);
    return lines;
  }
  await admin.disconnect().catch(() => undefined);
  try {
    lines.push(topicCheck(config.kafka, await inspectTopic(config.kafka, config.kafka.topic)));
  } catch (err) {
    lines.push({
      status: 'FAIL',
      name: 'topic',
      detail: (err as Error).message,
      fix: 'check the Kafka ACLs of this client',
    });
  }
  return lines;
}

/** Per-source order: the mode, and the sources held by `ORDER_ON_FAILURE=block`, by job. */
async function orderChecks(config: DualstreamConfig): Promise<CheckLine[]> {
  if (config.order.mode === 'none') {
    return [{ status: 'OK', name: 'order', detail: 'ORDERING=none: no per-source order, no seq' }];
  }
  const { redis } = probeRedis(config.redis.url, 'dualstream-doctor-order');
  try {
    const held = await redis.hgetall(orderKeys(config.redis.prefix, config.queue.name).held);
    const entries = Object.entries(held);
    if (entries.length === 0) {
      return [
        {
          status: 'OK',
          name: 'order',
          detail: `ORDERING=source on ${config.queue.name}; no source held`,
        },
      ];
    }
    const shown = entries.slice(0, 20).map(([source, job]) => `${source} (by job ${job})`);
    return [
      {
        status: 'WARN',
        name: 'held sources',
        detail: `${entries.length} source(s) held by a job that failed for good: ${shown.join(', ')}${entries.length > shown.length ? ', …' : ''}`,
        fix: 'retry the holding job once its cause is fixed (Bull Board, or dualstream retry-failed), or remove it to let its source go on',
      },
    ];
  } catch {
    return []; // the redis check above already reports an unreachable Redis
  } finally {
    redis.disconnect();
  }
}

/** Run every check of `dualstream doctor`. */
export async function runDoctor(config: DualstreamConfig): Promise<CheckLine[]> {
  const separatePubsub = config.redis.pubsubUrl !== config.redis.url;
  const [queueRedis, pubsub, kafka, order] = await Promise.all([
    redisChecks(config.redis.url, 'redis', true),
    separatePubsub
      ? redisChecks(config.redis.pubsubUrl, 'pubsub redis', false)
      : Promise.resolve([]),
    kafkaChecks(config),
    orderChecks(config),
  ]);
  const lines = [...queueRedis, ...pubsub, ...kafka, ...order];
  if (!separatePubsub && queueRedis[0]?.status === 'OK') {
    lines.splice(queueRedis.length, 0, {
      status: 'OK',
      name: 'pubsub redis',
      detail: 'same as the queue Redis (PUBSUB_REDIS_URL not set)',
    });
  }
  return lines;
}

/** Format one check as `OK   name  detail` plus an indented fix. */
export function formatCheck(c: CheckLine): string {
  const head = `${c.status.padEnd(4)} ${c.name.padEnd(17)} ${c.detail}`;
  return c.fix ? `${head}\n     fix: ${c.fix}` : head;
}

/** `dualstream doctor`: check connectivity and configuration; exit 1 on any FAIL. */
export function doctorCommand(): Command {
  const cmd = new Command('doctor').description(
    'check Kafka and both Redis connections, Redis version and settings, and the topic; exit 1 on any FAIL',
  );
  addConfigFlags(cmd, ...GROUPS);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const lines = await runDoctor(configFrom(opts, ...GROUPS));
      for (const l of lines) process.stdout.write(`${formatCheck(l)}\n`);
      const fails = lines.filter((l) => l.status === 'FAIL').length;
      const warns = lines.filter((l) => l.status === 'WARN').length;
      process.stdout.write(
        `\n${fails} failed, ${warns} warning(s), ${lines.length - fails - warns} ok\n`,
      );
      return fails > 0 ? EXIT.failure : EXIT.ok;
    }),
  );
  return cmd;
}

import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, type DualstreamConfig, type EnvVar } from '../config/index.js';

/** A command-line flag that overrides one environment variable. */
interface ConfigFlag {
  flags: string;
  variable: EnvVar;
  description: string;
  /** Boolean switch (no value): sets the variable to `1`. */
  switch?: boolean;
}

/** Kafka connection flags. */
const KAFKA_FLAGS: ConfigFlag[] = [
  {
    flags: '--kafka-brokers <list>',
    variable: 'KAFKA_BROKERS',
    description: 'Kafka brokers, host:port,... (KAFKA_BROKERS)',
  },
  { flags: '--topic <name>', variable: 'KAFKA_TOPIC', description: 'Kafka topic (KAFKA_TOPIC)' },
];

/** Flags of the Redis holding the queues. */
const QUEUE_FLAGS: ConfigFlag[] = [
  {
    flags: '--redis-url <url>',
    variable: 'REDIS_URL',
    description: 'Redis holding the queues (REDIS_URL)',
  },
  {
    flags: '--queue <name>',
    variable: 'DUALSTREAM_QUEUE',
    description: 'publish queue name (DUALSTREAM_QUEUE)',
  },
  {
    flags: '--prefix <prefix>',
    variable: 'DUALSTREAM_PREFIX',
    description: 'BullMQ key prefix (DUALSTREAM_PREFIX)',
  },
];

/** Flag of the Redis receiving the notifications. */
const PUBSUB_FLAGS: ConfigFlag[] = [
  {
    flags: '--pubsub-redis-url <url>',
    variable: 'PUBSUB_REDIS_URL',
    description: 'Redis for Pub/Sub notifications (PUBSUB_REDIS_URL)',
  },
];

/** Flag of the commands that log. */
const LOG_FLAGS: ConfigFlag[] = [
  {
    flags: '--log-level <level>',
    variable: 'LOG_LEVEL',
    description: 'fatal|error|warn|info|debug|trace|silent (LOG_LEVEL)',
  },
];

/** Every connection flag: for the commands that talk to Kafka and both Redis roles. */
const CONNECTION_FLAGS: ConfigFlag[] = [
  ...KAFKA_FLAGS,
  QUEUE_FLAGS[0]!,
  ...PUBSUB_FLAGS,
  ...QUEUE_FLAGS.slice(1),
  ...LOG_FLAGS,
];

/** Flags of the processes that run a worker. */
const WORKER_FLAGS: ConfigFlag[] = [
  {
    flags: '--concurrency <n>',
    variable: 'WORKER_CONCURRENCY',
    description: 'jobs processed in parallel (WORKER_CONCURRENCY)',
  },
  {
    flags: '--ordering <mode>',
    variable: 'ORDERING',
    description: 'source (per-source order and seq) | none (ORDERING)',
  },
  {
    flags: '--order-on-failure <policy>',
    variable: 'ORDER_ON_FAILURE',
    description:
      'continue | block: what a job that failed for good does to its source (ORDER_ON_FAILURE)',
  },
];

/** Flags of the ingester. */
const INGEST_FLAGS: ConfigFlag[] = [
  {
    flags: '--service <name>',
    variable: 'DUALSTREAM_SERVICE',
    description: 'stream-ownership service name (DUALSTREAM_SERVICE)',
  },
];

/** Flags of the HTTP server. */
const SERVER_FLAGS: ConfigFlag[] = [
  { flags: '--host <host>', variable: 'HOST', description: 'address to bind (HOST)' },
  { flags: '--port <port>', variable: 'PORT', description: 'port to listen on, 0 = any (PORT)' },
  {
    flags: '--insecure',
    variable: 'DUALSTREAM_INSECURE',
    description: 'serve without credentials; only allowed on a loopback host (DUALSTREAM_INSECURE)',
    switch: true,
  },
];

/** Flags of the metrics-only endpoint of a process without the HTTP server (`worker`, `ingest`). */
const METRICS_FLAGS: ConfigFlag[] = [
  {
    flags: '--metrics-port <port>',
    variable: 'METRICS_PORT',
    description: 'serve /metrics and /healthz on this port, 0 = any; off when unset (METRICS_PORT)',
  },
  {
    flags: '--host <host>',
    variable: 'HOST',
    description: 'address the metrics endpoint binds (HOST)',
  },
];

/**
 * Which groups of flags a command takes: `connection` is all of `kafka`, `queue`, `pubsub` and
 * `log`; a command that uses only some of them lists only those, so `--help` shows no flag it
 * ignores.
 */
export type FlagGroup =
  'connection' | 'kafka' | 'queue' | 'pubsub' | 'log' | 'worker' | 'ingest' | 'server' | 'metrics';

const GROUPS: Record<FlagGroup, ConfigFlag[]> = {
  connection: CONNECTION_FLAGS,
  kafka: KAFKA_FLAGS,
  queue: QUEUE_FLAGS,
  pubsub: PUBSUB_FLAGS,
  log: LOG_FLAGS,
  worker: WORKER_FLAGS,
  ingest: INGEST_FLAGS,
  server: SERVER_FLAGS,
  metrics: METRICS_FLAGS,
};

function attributeName(flags: string): string {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1] ?? flags;
  return long.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Add the config flags of the given groups to a command. */
export function addConfigFlags(command: Command, ...groups: FlagGroup[]): Command {
  for (const g of groups) {
    for (const f of GROUPS[g]) command.addOption(new Option(f.flags, f.description));
  }
  return command;
}

/** Turn parsed flags into config overrides (flag wins over the environment variable). */
export function overridesFrom(
  opts: Record<string, unknown>,
  ...groups: FlagGroup[]
): Partial<Record<EnvVar, string>> {
  const out: Partial<Record<EnvVar, string>> = {};
  for (const g of groups) {
    for (const f of GROUPS[g]) {
      const v = opts[attributeName(f.flags)];
      if (v === undefined) continue;
      out[f.variable] = f.switch ? (v ? '1' : '0') : String(v);
    }
  }
  return out;
}

/** Load the configuration from `process.env` with the command's flags as overrides. */
export function configFrom(
  opts: Record<string, unknown>,
  ...groups: FlagGroup[]
): DualstreamConfig {
  return loadConfig(process.env, overridesFrom(opts, ...groups));
}

/** Parse a duration such as `500ms`, `30s`, `5m`, `2h`, `1d` (a bare number is milliseconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) {
    throw new Error(`invalid duration "${text}": use e.g. 500ms, 30s, 5m, 2h or 1d`);
  }
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1;
  return Math.round(n * factor);
}

/** Commander argument parser of a flag that takes a positive whole number. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a positive whole number');
  }
  return n;
}

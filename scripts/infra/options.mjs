// Options of every infra call, resolved once from explicit options, then the environment, then
// defaults: broker and Redis addresses, Kafka version, and the cache and run directories.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHostPort } from './probe.mjs';

/** Newest Kafka release verified with kafkajs 2.2.4 (see scripts/kafka/README.md). */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

const SCRIPTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The clone (or installed package) root, where docker-compose.yml lives. */
export const REPO_ROOT = path.resolve(SCRIPTS_DIR, '..');
/** pom.xml template and log4j configs for the broker (scripts/kafka/). */
export const KAFKA_ASSETS = path.join(SCRIPTS_DIR, 'kafka');

export function defaultLog(line) {
  console.log(`[infra] ${line}`);
}

export function resolveOptions(opts = {}) {
  const env = process.env;
  const brokers = opts.kafkaBrokers ?? env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const first = parseHostPort(brokers.split(',')[0] ?? '', 9092);
  const kafkaHost = opts.kafkaHost ?? first.host;
  const kafkaPort = opts.kafkaPort ?? first.port;
  if (!Number.isInteger(kafkaPort) || kafkaPort <= 0 || kafkaPort > 65535) {
    throw new Error(`Invalid Kafka broker address "${brokers}": expected host:port`);
  }
  const controllerPort =
    opts.controllerPort ??
    (env.KAFKA_CONTROLLER_PORT ? Number(env.KAFKA_CONTROLLER_PORT) : kafkaPort + 1);
  const kafkaVersion = opts.kafkaVersion ?? env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(kafkaVersion)) {
    throw new Error(
      `Invalid KAFKA_VERSION "${kafkaVersion}": expected e.g. ${DEFAULT_KAFKA_VERSION}`,
    );
  }
  const cacheDir =
    opts.cacheDir ??
    path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bullmq-dualstream');
  const runDir = opts.runDir ?? env.DUALSTREAM_RUN_DIR ?? path.join(cacheDir, 'run');
  const redisUrl = new URL(opts.redisUrl ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const redisHost = redisUrl.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const redisPort = Number(redisUrl.port || 6379);
  const quiet = opts.quiet ?? false;
  const log = opts.log ?? (quiet ? () => {} : defaultLog);
  const wantDocker = (opts.mode ?? env.DUALSTREAM_INFRA) === 'docker';
  return {
    kafka: opts.kafka ?? true,
    redis: opts.redis ?? true,
    kafkaHost,
    kafkaPort,
    kafkaAddress: `${kafkaHost.includes(':') ? `[${kafkaHost}]` : kafkaHost}:${kafkaPort}`,
    controllerPort,
    kafkaVersion,
    cacheDir,
    runDir,
    brokerDir: path.join(runDir, `kafka-${kafkaPort}`),
    kafkaHome: path.join(cacheDir, `kafka-${kafkaVersion}`),
    redisUrl: redisUrl.toString(),
    redisHost,
    redisPort,
    startTimeoutMs: opts.startTimeoutMs ?? 90_000,
    heapOpts: (env.KAFKA_HEAP_OPTS ?? '-Xms256m -Xmx768m').split(/\s+/).filter(Boolean),
    wantDocker,
    log,
  };
}

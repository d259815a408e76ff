// Options of every infra call, resolved once from explicit options, then the environment, then
// defaults: broker and Redis addresses, Kafka version, and the cache and run directories.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHostPort } from './probe.mjs';

/** First client port of a multi-node cluster (node i serves on this + 2(i-1)). */
export const DEFAULT_CLUSTER_PORT = 19092;

/** First port of a Redis Cluster (6 nodes: this port and the five above it). */
export const DEFAULT_REDIS_CLUSTER_PORT = 17000;

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
  const kafkaNodes = Number(opts.kafkaNodes ?? env.KAFKA_NODES ?? 1);
  if (!Number.isInteger(kafkaNodes) || kafkaNodes < 1 || kafkaNodes > 9) {
    throw new Error(
      `Invalid Kafka node count "${opts.kafkaNodes ?? env.KAFKA_NODES}": expected 1 to 9`,
    );
  }
  // A cluster never takes its ports from KAFKA_BROKERS (which usually names the development
  // broker on 9092): KAFKA_CLUSTER_PORT or an explicit kafkaPort/clusterPort places it.
  const clusterPort = Number(
    opts.clusterPort ?? opts.kafkaPort ?? env.KAFKA_CLUSTER_PORT ?? DEFAULT_CLUSTER_PORT,
  );
  if (!Number.isInteger(clusterPort) || clusterPort <= 0 || clusterPort + 2 * kafkaNodes > 65535) {
    throw new Error(`Invalid KAFKA_CLUSTER_PORT "${clusterPort}": expected a port`);
  }
  const redisClusterPort = Number(
    opts.redisClusterPort ?? env.REDIS_CLUSTER_PORT ?? DEFAULT_REDIS_CLUSTER_PORT,
  );
  if (!Number.isInteger(redisClusterPort) || redisClusterPort <= 0 || redisClusterPort > 65529) {
    throw new Error(`Invalid REDIS_CLUSTER_PORT "${redisClusterPort}": expected a port`);
  }
  const defaultHeap = kafkaNodes > 1 ? '-Xms128m -Xmx384m' : '-Xms256m -Xmx768m';
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
    kafkaNodes,
    clusterPort,
    redisCluster: opts.redisCluster ?? false,
    redisClusterPort,
    heapOpts: (env.KAFKA_HEAP_OPTS ?? defaultHeap).split(/\s+/).filter(Boolean),
    wantDocker,
    log,
  };
}

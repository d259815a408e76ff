#!/usr/bin/env node
// Local infrastructure for tests and `npm start`: a single-node KRaft Kafka broker run from the
// official Apache Kafka jars (resolved with Maven into a cache outside the clone) and a Redis.
// Plain JavaScript on purpose: it must run from a fresh clone before `tsc` ever ran.
//
//   node scripts/infra.mjs up | down [--clean] | status   [--kafka-nodes 3]
//
// --kafka-nodes 3 (or KAFKA_NODES=3) runs a replicated 3-node KRaft cluster instead of the single
// broker, on KAFKA_CLUSTER_PORT (19092) and up (scripts/infra/kafka-cluster.mjs).
// --redis-cluster runs a Redis Cluster of 3 masters and 3 replicas on REDIS_CLUSTER_PORT (17000)
// and up instead of using REDIS_URL (scripts/infra/redis-cluster.mjs).
// Environment: KAFKA_BROKERS (127.0.0.1:9092), KAFKA_CONTROLLER_PORT (broker port + 1),
// KAFKA_VERSION, KAFKA_HEAP_OPTS, REDIS_URL (redis://127.0.0.1:6379), DUALSTREAM_RUN_DIR,
// XDG_CACHE_HOME, DUALSTREAM_INFRA=docker (use `docker compose` when an engine is present).
// Types for TypeScript callers live in infra.d.mts.
//
// This file is the entry point and the whole public API; the parts live in scripts/infra/:
// options.mjs (addresses, version, cache and run dirs), probe.mjs (ApiVersions/PING probes,
// host:port parsing), processes.mjs (pid files, locks, stopping processes), kafka-jars.mjs (Maven,
// Java), kafka-broker.mjs (broker files, storage format, JVM spawn), kafka.mjs (reuse/start/stop
// of the broker), redis.mjs (reuse/start/stop of redis-server), docker.mjs (docker compose mode).

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dockerAvailable, dockerCompose, dockerUp } from './infra/docker.mjs';
import { kafkaPaths, readKafkaState } from './infra/kafka-broker.mjs';
import { ensureKafka, stopBrokerPid, stopManagedKafka } from './infra/kafka.mjs';
import {
  clusterBrokers,
  ensureKafkaCluster,
  nodeOptions,
  stopKafkaCluster,
} from './infra/kafka-cluster.mjs';
import { defaultLog, resolveOptions } from './infra/options.mjs';
import { probeKafka, probeRedis } from './infra/probe.mjs';
import { seconds } from './infra/processes.mjs';
import { ensureRedis, isRedisManaged, stopManagedRedis } from './infra/redis.mjs';
import {
  ensureRedisCluster,
  killRedisNode,
  redisClusterPorts,
  redisClusterUrl,
  restartRedisNode,
  stopRedisCluster,
} from './infra/redis-cluster.mjs';

export { DEFAULT_KAFKA_VERSION } from './infra/options.mjs';
export { parseHostPort, probeKafka, probeRedis } from './infra/probe.mjs';

// ---------------------------------------------------------------------------------------------
// Public API

/** Makes sure Kafka and Redis answer, starting local ones where needed. Safe to repeat. */
export async function infraUp(opts = {}) {
  const o = resolveOptions(opts);
  const started = Date.now();
  if (o.wantDocker) {
    if (dockerAvailable()) return dockerUp(o, started);
    o.log('DUALSTREAM_INFRA=docker but no Docker engine answers; using local processes');
  }
  const redis = !o.redis
    ? undefined
    : o.redisCluster
      ? await ensureRedisCluster(o)
      : await ensureRedis(o);
  const kafka = !o.kafka
    ? undefined
    : o.kafkaNodes > 1
      ? await ensureKafkaCluster(o)
      : await ensureKafka(o);
  return { mode: 'local', kafka, redis, totalMs: Date.now() - started };
}

/**
 * Stops only what infraUp started: the broker from its pid file and a redis-server it ran. Asked
 * for a cluster (`kafkaNodes` > 1 or `redisCluster`), it stops only the cluster(s) named, never
 * the development broker or Redis beside them.
 */
export async function infraDown(opts = {}) {
  const scoped = Number(opts.kafkaNodes ?? 1) > 1 || opts.redisCluster === true;
  const o = resolveOptions(
    scoped
      ? {
          ...opts,
          kafka: Number(opts.kafkaNodes ?? 1) > 1 && opts.kafka !== false,
          redis: opts.redisCluster === true && opts.redis !== false,
        }
      : opts,
  );
  const result = { kafka: 'not-running', redis: 'not-managed', cleaned: false };
  if (o.wantDocker && dockerAvailable()) {
    dockerCompose(o, ['stop', 'kafka', 'redis']);
    return { ...result, kafka: 'stopped', redis: 'stopped' };
  }
  if (o.kafka) {
    Object.assign(
      result,
      o.kafkaNodes > 1
        ? await stopKafkaCluster(o, opts.clean)
        : await stopManagedKafka(o, opts.clean),
    );
  }
  if (o.redis) {
    result.redis = o.redisCluster
      ? await stopRedisCluster(o, opts.clean)
      : await stopManagedRedis(o);
  }
  return result;
}

/** Reports what answers on the configured ports and what this script manages. */
export async function infraStatus(opts = {}) {
  const o = resolveOptions(opts);
  if (o.kafkaNodes > 1) return clusterStatus(o);
  const kprobe = await probeKafka(o.kafkaHost, o.kafkaPort, 1_000);
  const kstate = readKafkaState(o);
  const rprobe = await probeRedis(o.redisHost, o.redisPort, 1_000);
  const status = {
    kafka: {
      address: o.kafkaAddress,
      state: kprobe.state,
      detail: kprobe.detail,
      managed: kstate.alive,
      pid: kstate.alive ? kstate.pid : undefined,
      version: kstate.alive ? kstate.version : undefined,
      logFile: kstate.alive ? kafkaPaths(o).logFile : undefined,
    },
    redis: {
      url: o.redisUrl,
      state: rprobe.state,
      detail: rprobe.detail,
      managed: isRedisManaged(o),
    },
  };
  const k = status.kafka;
  o.log(
    `kafka ${k.address}: ${k.state}` +
      (k.managed ? ` (managed: Kafka ${k.version ?? '?'}, pid ${k.pid}, log ${k.logFile})` : '') +
      (k.state === 'kafka' ? '' : ` — ${k.detail}`),
  );
  o.log(
    `redis ${o.redisHost}:${o.redisPort}: ${rprobe.state}` +
      (status.redis.managed ? ' (managed)' : '') +
      (rprobe.state === 'redis' ? '' : ` — ${rprobe.detail}`),
  );
  return status;
}

async function clusterStatus(o) {
  const nodes = [];
  for (let id = 1; id <= o.kafkaNodes; id++) {
    const n = nodeOptions(o, id, 'status');
    const probe = await probeKafka(n.kafkaHost, n.kafkaPort, 1_000);
    const state = readKafkaState(n);
    nodes.push({ id, address: n.kafkaAddress, state: probe.state, detail: probe.detail, ...state });
    o.log(
      `kafka node ${id} ${n.kafkaAddress}: ${probe.state}` +
        (state.alive ? ` (managed: pid ${state.pid}, log ${kafkaPaths(n).logFile})` : ''),
    );
  }
  const rprobe = await probeRedis(o.redisHost, o.redisPort, 1_000);
  o.log(`redis ${o.redisHost}:${o.redisPort}: ${rprobe.state}`);
  const up = nodes.filter((n) => n.state === 'kafka').length;
  return {
    kafka: {
      address: clusterBrokers(o).join(','),
      state: up === nodes.length ? 'kafka' : up === 0 ? 'closed' : 'other',
      detail: `${up} of ${nodes.length} nodes answer`,
      managed: nodes.every((n) => n.alive),
      pid: undefined,
      version: nodes.find((n) => n.alive)?.version,
      logFile: undefined,
      nodes: nodes.map((n) => ({ id: n.id, address: n.address, state: n.state, pid: n.pid })),
    },
    redis: {
      url: o.redisUrl,
      state: rprobe.state,
      detail: rprobe.detail,
      managed: isRedisManaged(o),
    },
  };
}

/** Options of the one node that killKafka/startKafka act on: node `opts.node` of a cluster. */
function targetNode(opts) {
  const o = resolveOptions(opts);
  if (o.kafkaNodes === 1) return o;
  if (!Number.isInteger(opts.node) || opts.node < 1 || opts.node > o.kafkaNodes) {
    throw new Error(
      `Name the cluster node to act on: node 1 to ${o.kafkaNodes} (got ${opts.node})`,
    );
  }
  return nodeOptions(o, opts.node);
}

/**
 * Fault injection: kills the managed broker (SIGKILL by default) and keeps its data dir; in a
 * cluster (`kafkaNodes` > 1) the node `node`.
 */
export async function killKafka(opts = {}) {
  const o = targetNode(opts);
  const signal = opts.signal ?? 'SIGKILL';
  const prior = readKafkaState(o);
  if (!prior.alive || prior.pid === undefined) {
    throw new Error(`No Kafka broker started by this script runs on ${o.kafkaAddress}`);
  }
  const used = await stopBrokerPid(o, prior.pid, signal);
  o.log(`killed Kafka on ${o.kafkaAddress} (pid ${prior.pid}, ${used})`);
  return { pid: prior.pid, signal: used };
}

/** Starts the broker (in a cluster: node `node`) again on the same storage dir. */
export async function startKafka(opts = {}) {
  return ensureKafka(targetNode({ ...opts, redis: false }));
}

/** The `redis+cluster://` URL and ports of the Redis Cluster that `opts` describe. */
export function redisClusterInfo(opts = {}) {
  const o = resolveOptions(opts);
  return { url: redisClusterUrl(o), ports: redisClusterPorts(o) };
}

/** Fault injection: kill -9 (by default) the Redis Cluster node on `opts.port`. */
export async function killRedisClusterNode(opts) {
  return killRedisNode(resolveOptions(opts), opts.port, opts.signal ?? 'SIGKILL');
}

/** Start the Redis Cluster node on `opts.port` again (it rejoins the cluster). */
export async function startRedisClusterNode(opts) {
  return restartRedisNode(resolveOptions(opts), opts.port);
}

/** Client addresses of every node of the cluster that `opts` describe (one for one node). */
export function kafkaBrokerList(opts = {}) {
  const o = resolveOptions(opts);
  return o.kafkaNodes > 1 ? clusterBrokers(o) : [o.kafkaAddress];
}

// ---------------------------------------------------------------------------------------------
// CLI

function flagValue(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

async function main(argv) {
  const [command, ...rest] = argv;
  const started = Date.now();
  const nodes = flagValue(rest, '--kafka-nodes');
  const flags = {
    ...(nodes === undefined ? {} : { kafkaNodes: Number(nodes) }),
    ...(rest.includes('--redis-cluster') ? { redisCluster: true } : {}),
  };
  switch (command) {
    case 'up': {
      const res = await infraUp(flags);
      const k = res.kafka;
      const kafkaNote = !k
        ? ''
        : k.reused
          ? ', Kafka reused'
          : `, Kafka start ${seconds(k.startMs)}`;
      defaultLog(`up in ${seconds(Date.now() - started)}${kafkaNote}`);
      return 0;
    }
    case 'down':
      await infraDown({ ...flags, clean: rest.includes('--clean') });
      return 0;
    case 'status': {
      const s = await infraStatus(flags);
      return s.kafka.state === 'kafka' && s.redis.state === 'redis' ? 0 : 1;
    }
    default:
      console.error(
        'usage: node scripts/infra.mjs up | down [--clean] | status  [--kafka-nodes <n>] [--redis-cluster]',
      );
      return 2;
  }
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`[infra] error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

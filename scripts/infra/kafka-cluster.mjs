// A replicated KRaft cluster of N combined broker+controller nodes on loopback, from the same
// Maven-resolved jars as the single broker. Each node is a single managed broker of kafka.mjs
// with a `cluster` block in its options (node id, quorum voters, replication), so starting,
// killing and restarting one node reuses the single-broker code; this module only lays the
// nodes out, starts them together (a quorum needs a majority to elect a leader) and stops them.
//
// Layout: node i (1-based) serves clients on base + 2(i-1) and its controller on base + 2(i-1) + 1
// (defaults 19092/19093, 19094/19095, 19096/19097); files under <run dir>/kafka-cluster-<base>/.

import fs from 'node:fs';
import path from 'node:path';
import { randomClusterId } from './kafka-broker.mjs';
import { ensureKafka, stopManagedKafka } from './kafka.mjs';
import { ensureJava, ensureKafkaJars } from './kafka-jars.mjs';
import { readJson, rm, withLock } from './processes.mjs';

function clusterDir(o) {
  return path.join(o.runDir, `kafka-cluster-${o.clusterPort}`);
}

/** The cluster id shared by every node's storage, kept beside the nodes so restarts agree. */
function clusterId(o) {
  const file = path.join(clusterDir(o), 'cluster.json');
  const known = readJson(file)?.clusterId;
  if (typeof known === 'string' && known) return known;
  const id = randomClusterId();
  fs.mkdirSync(clusterDir(o), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ clusterId: id, nodes: o.kafkaNodes })}\n`);
  return id;
}

/**
 * Options of node `id` (1-based): the single-broker options with its own ports, run dir and a
 * `cluster` block. Replication is min(3, N) with min.insync.replicas 2 from three nodes up, so
 * that acks=all survives one node down and refuses writes (rather than losing them) with two.
 */
export function nodeOptions(o, id, knownClusterId) {
  const host = o.kafkaHost;
  const portOf = (n) => o.clusterPort + 2 * (n - 1);
  const ids = Array.from({ length: o.kafkaNodes }, (_, i) => i + 1);
  const kafkaPort = portOf(id);
  const replication = Math.min(3, o.kafkaNodes);
  return {
    ...o,
    kafkaPort,
    controllerPort: kafkaPort + 1,
    kafkaAddress: `${host}:${kafkaPort}`,
    brokerDir: path.join(clusterDir(o), `node-${id}`),
    cluster: {
      nodeId: id,
      size: o.kafkaNodes,
      voters: ids.map((n) => `${n}@${host}:${portOf(n) + 1}`).join(','),
      replication,
      minIsr: replication >= 3 ? 2 : 1,
      clusterId: knownClusterId ?? clusterId(o),
    },
  };
}

/** Client addresses of every node, in node order. */
export function clusterBrokers(o) {
  return Array.from({ length: o.kafkaNodes }, (_, i) => `${o.kafkaHost}:${o.clusterPort + 2 * i}`);
}

/**
 * Starts every node that does not answer yet, all at once, and waits until each serves metadata
 * and the group coordinator (which needs the replicated __consumer_offsets, so every node).
 */
export async function ensureKafkaCluster(o) {
  const started = Date.now();
  return withLock(`${clusterDir(o)}.lock`, 'Kafka cluster', o.log, async () => {
    ensureJava();
    const download = await ensureKafkaJars(o);
    const id = clusterId(o);
    const nodes = await Promise.all(
      Array.from({ length: o.kafkaNodes }, (_, i) => ensureKafka(nodeOptions(o, i + 1, id))),
    );
    const brokers = nodes.map((n) => n.address);
    const reused = nodes.every((n) => n.reused);
    o.log(
      `Kafka cluster of ${nodes.length} nodes ${reused ? 'already serving' : 'ready'} on ` +
        `${brokers.join(',')} (replication ${Math.min(3, o.kafkaNodes)}, ` +
        `min.insync.replicas ${o.kafkaNodes >= 3 ? 2 : 1})`,
    );
    return {
      address: brokers.join(','),
      brokers,
      reused,
      managed: nodes.every((n) => n.managed),
      version: nodes[0]?.version,
      pid: undefined,
      formatted: nodes.some((n) => n.formatted),
      downloaded: download.downloaded,
      downloadMs: download.ms,
      startMs: Math.max(...nodes.map((n) => n.startMs)),
      totalMs: Date.now() - started,
      logFile: undefined,
      nodes: nodes.map((n, i) => ({
        id: i + 1,
        address: n.address,
        pid: n.pid,
        logFile: n.logFile,
      })),
    };
  });
}

/** Stops every node this script started (in parallel); `clean` deletes the cluster's run dir. */
export async function stopKafkaCluster(o, clean) {
  const result = { kafka: 'not-running', cleaned: false };
  await withLock(`${clusterDir(o)}.lock`, 'Kafka cluster', o.log, async () => {
    const known = readJson(path.join(clusterDir(o), 'cluster.json'))?.clusterId ?? 'unknown';
    const outcomes = await Promise.all(
      Array.from({ length: o.kafkaNodes }, (_, i) =>
        stopManagedKafka(nodeOptions(o, i + 1, known), false),
      ),
    );
    if (outcomes.some((r) => r.kafka === 'stopped')) result.kafka = 'stopped';
    else if (outcomes.some((r) => r.kafka === 'not-managed')) result.kafka = 'not-managed';
    if (clean) {
      rm(clusterDir(o));
      result.cleaned = true;
      o.log(`removed ${clusterDir(o)}`);
    }
  });
  return result;
}

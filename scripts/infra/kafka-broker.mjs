// The managed broker on disk and as a process: its files under <run dir>/kafka-<port>/
// (server.properties, KRaft storage, pid and state files, log) and spawning its JVM.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { kafkaMajor } from './kafka-jars.mjs';
import { KAFKA_ASSETS } from './options.mjs';
import { isAlive, readJson, readPid, rm } from './processes.mjs';

export function kafkaPaths(o) {
  return {
    pidFile: path.join(o.brokerDir, 'kafka.pid'),
    stateFile: path.join(o.brokerDir, 'kafka.json'),
    logFile: path.join(o.brokerDir, 'kafka.log'),
    dataDir: path.join(o.brokerDir, `data-${o.kafkaVersion}`),
    propsFile: path.join(o.brokerDir, `server-${o.kafkaVersion}.properties`),
  };
}

/**
 * server.properties of one node. A single node (the default) replicates nothing; a node of a
 * cluster (`o.cluster`, see kafka-cluster.mjs) names every voter of the controller quorum and
 * replicates every topic, the internal ones included, to `o.cluster.replication` nodes.
 */
export function writeServerProperties(o, p) {
  const c = o.cluster;
  const rf = c ? c.replication : 1;
  const minIsr = c ? c.minIsr : 1;
  const lines = [
    c
      ? `# Written by scripts/infra.mjs for node ${c.nodeId} of a throwaway ${c.size}-node KRaft cluster.`
      : '# Written by scripts/infra.mjs for a throwaway single-node KRaft broker.',
    'process.roles=broker,controller',
    `node.id=${c ? c.nodeId : 1}`,
    `controller.quorum.voters=${c ? c.voters : `1@${o.kafkaHost}:${o.controllerPort}`}`,
    `listeners=PLAINTEXT://${o.kafkaAddress},CONTROLLER://${o.kafkaHost}:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${o.kafkaAddress}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${p.dataDir}`,
    'num.partitions=3',
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${rf}`,
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    // Never elect a replica that missed acknowledged writes (the default, stated on purpose).
    'unclean.leader.election.enable=false',
    // After a kill -9 the restarted broker cannot register until the old incarnation's session
    // expires (DUPLICATE_BROKER_REGISTRATION): a short session keeps fault-injection restarts fast,
    // and in a cluster it is also how soon the controller moves a dead leader's partitions.
    'broker.session.timeout.ms=3000',
    'broker.heartbeat.interval.ms=750',
  ];
  if (kafkaMajor(o.kafkaVersion) >= 4) {
    lines.push(
      `share.coordinator.state.topic.replication.factor=${rf}`,
      `share.coordinator.state.topic.min.isr=${minIsr}`,
    );
  }
  fs.writeFileSync(p.propsFile, `${lines.join('\n')}\n`);
}

function loggingArgs(version, level) {
  if (kafkaMajor(version) >= 4) {
    return [
      `-Dlog4j2.configurationFile=${path.join(KAFKA_ASSETS, 'log4j2.properties')}`,
      `-Ddualstream.kafka.logLevel=${level}`,
    ];
  }
  return [
    `-Dlog4j.configuration=${pathToFileURL(path.join(KAFKA_ASSETS, 'log4j.properties')).href}`,
    `-Ddualstream.kafka.logLevel=${level}`,
  ];
}

export function randomClusterId() {
  // Kafka cluster ids are base64url UUIDs; one starting with "-" would parse as a CLI flag.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Formats the KRaft storage once per broker dir and version; later starts keep the data. */
export function ensureFormatted(o, p) {
  if (fs.existsSync(path.join(p.dataDir, 'meta.properties'))) return false;
  rm(p.dataDir);
  fs.mkdirSync(p.dataDir, { recursive: true });
  const clusterId = o.cluster?.clusterId ?? randomClusterId();
  const res = spawnSync(
    'java',
    [
      ...loggingArgs(o.kafkaVersion, 'WARN'),
      '-cp',
      path.join(o.kafkaHome, 'libs', '*'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      p.propsFile,
    ],
    { cwd: o.brokerDir, encoding: 'utf8' },
  );
  if (res.error || res.status !== 0) {
    rm(p.dataDir);
    throw new Error(
      `Formatting Kafka storage in ${p.dataDir} failed (exit ${res.status}):\n` +
        `${res.stdout ?? ''}${res.stderr ?? res.error?.message ?? ''}`,
    );
  }
  o.log(`formatted KRaft storage (cluster ${clusterId}) in ${p.dataDir}`);
  return true;
}

function rotateLog(logFile) {
  try {
    if (fs.statSync(logFile).size > 20 * 1024 * 1024) fs.renameSync(logFile, `${logFile}.1`);
  } catch {
    // No log yet.
  }
}

export function spawnBroker(o, p) {
  rotateLog(p.logFile);
  const fd = fs.openSync(p.logFile, 'a');
  fs.writeSync(
    fd,
    `\n==== dualstream infra: starting Kafka ${o.kafkaVersion} at ${new Date().toISOString()}\n`,
  );
  const args = [
    ...o.heapOpts,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${o.brokerDir}`,
    ...loggingArgs(o.kafkaVersion, 'INFO'),
    '-cp',
    path.join(o.kafkaHome, 'libs', '*'),
    'kafka.Kafka',
    p.propsFile,
  ];
  const child = spawn('java', args, {
    cwd: o.brokerDir,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  child.unref();
  fs.writeFileSync(p.pidFile, `${child.pid}\n`);
  fs.writeFileSync(
    p.stateFile,
    `${JSON.stringify({
      pid: child.pid,
      version: o.kafkaVersion,
      address: o.kafkaAddress,
      controllerPort: o.controllerPort,
      dataDir: p.dataDir,
      startedAt: new Date().toISOString(),
    })}\n`,
  );
  return child.pid;
}

/** Guards against pid reuse: only a live JVM running kafka.Kafka counts as our broker. */
function isKafkaProcess(pid) {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('kafka.Kafka');
  } catch {
    return process.platform !== 'linux';
  }
}

export function readKafkaState(o) {
  const p = kafkaPaths(o);
  const pid = readPid(p.pidFile);
  const state = readJson(p.stateFile);
  return { pid, version: state?.version, alive: pid !== undefined && isKafkaProcess(pid) };
}

export function clearKafkaState(o) {
  const p = kafkaPaths(o);
  rm(p.pidFile);
  rm(p.stateFile);
}

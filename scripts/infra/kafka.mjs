// Kafka lifecycle: reuse a broker that already answers, otherwise start the managed one under a
// cross-process lock and wait until it really serves; stop it again. Docker mode reuses the wait.

import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  clearKafkaState,
  ensureFormatted,
  kafkaPaths,
  readKafkaState,
  spawnBroker,
  writeServerProperties,
} from './kafka-broker.mjs';
import { ensureJava, ensureKafkaJars } from './kafka-jars.mjs';
import { describePortHolder, isLoopback, notKafkaError, probeKafka } from './probe.mjs';
import { isAlive, rm, seconds, stopProcess, tail, withLock } from './processes.mjs';

const STOP_GRACE_MS = 15_000;
const HALF_STARTED_GRACE_MS = 15_000;

async function kafkaAdmin(address) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'dualstream-infra',
    brokers: [address],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
  return kafka.admin();
}

/**
 * Ready means metadata is served and the group coordinator exists: describing a group makes the
 * broker create __consumer_offsets now rather than during the first test's consumer join.
 */
async function checkKafkaServes(address) {
  const admin = await kafkaAdmin(address);
  try {
    await admin.connect();
    await admin.listTopics();
    await admin.describeGroups(['dualstream-infra-readiness']);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export async function waitForBroker(o, pid, timeoutMs, logFile) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pid !== undefined && !isAlive(pid)) {
      throw new Error(
        `Kafka ${o.kafkaVersion} (pid ${pid}) exited during start-up. Last log lines ` +
          `(${logFile}):\n${tail(logFile)}`,
      );
    }
    const probe = await probeKafka(o.kafkaHost, o.kafkaPort, 1_000);
    if (probe.state === 'kafka' && (await checkKafkaServes(o.kafkaAddress))) return true;
    await sleep(300);
  }
  return false;
}

export async function stopBrokerPid(o, pid, signal, graceMs = STOP_GRACE_MS) {
  const used = await stopProcess(pid, graceMs, signal);
  clearKafkaState(o);
  return used;
}

/** Starts (or adopts) the broker. Must run under the broker lock. */
async function startKafkaLocked(o, started) {
  const p = kafkaPaths(o);
  let probe = await probeKafka(o.kafkaHost, o.kafkaPort);
  if (probe.state === 'kafka') return reusedKafka(o, started);

  const prior = readKafkaState(o);
  if (prior.alive && prior.pid !== undefined) {
    o.log(`broker pid ${prior.pid} from an earlier run is not answering yet; giving it a moment`);
    if (await waitForBroker(o, prior.pid, HALF_STARTED_GRACE_MS, p.logFile)) {
      return reusedKafka(o, started);
    }
    o.log(`broker pid ${prior.pid} is half-started; killing it and starting fresh`);
    await stopBrokerPid(o, prior.pid, 'SIGTERM', 5_000);
    probe = await probeKafka(o.kafkaHost, o.kafkaPort);
  } else if (prior.pid !== undefined) {
    clearKafkaState(o); // stale pid file from a broker that is gone
  }
  if (probe.state === 'other') throw notKafkaError(o.kafkaAddress, o.kafkaPort, probe.detail);
  if (probe.state === 'kafka') return reusedKafka(o, started);
  const controller = await probeKafka(o.kafkaHost, o.controllerPort, 500);
  if (controller.state !== 'closed') {
    throw new Error(
      `Kafka controller port ${o.controllerPort} is already in use${describePortHolder(o.controllerPort)}; ` +
        'set KAFKA_CONTROLLER_PORT to a free port.',
    );
  }

  ensureJava();
  const download = await ensureKafkaJars(o);
  fs.mkdirSync(o.brokerDir, { recursive: true });
  writeServerProperties(o, p);
  const formatted = ensureFormatted(o, p);
  const startAt = Date.now();
  const pid = spawnBroker(o, p);
  o.log(`starting Kafka ${o.kafkaVersion} on ${o.kafkaAddress} (pid ${pid}, log ${p.logFile})`);
  if (!(await waitForBroker(o, pid, o.startTimeoutMs, p.logFile))) {
    await stopBrokerPid(o, pid, 'SIGKILL');
    throw new Error(
      `Kafka ${o.kafkaVersion} did not serve metadata on ${o.kafkaAddress} within ` +
        `${seconds(o.startTimeoutMs)}. Last log lines (${p.logFile}):\n${tail(p.logFile)}`,
    );
  }
  const startMs = Date.now() - startAt;
  o.log(`Kafka ${o.kafkaVersion} ready on ${o.kafkaAddress} in ${seconds(startMs)}`);
  return {
    address: o.kafkaAddress,
    reused: false,
    managed: true,
    version: o.kafkaVersion,
    pid,
    formatted,
    downloaded: download.downloaded,
    downloadMs: download.ms,
    startMs,
    totalMs: Date.now() - started,
    logFile: p.logFile,
  };
}

function reusedKafka(o, started) {
  const prior = readKafkaState(o);
  const ms = Date.now() - started;
  o.log(`Kafka already serving on ${o.kafkaAddress} (reused, ${ms} ms)`);
  return {
    address: o.kafkaAddress,
    reused: true,
    managed: prior.alive,
    version: prior.alive ? prior.version : undefined,
    pid: prior.alive ? prior.pid : undefined,
    formatted: false,
    downloaded: false,
    downloadMs: 0,
    startMs: 0,
    totalMs: ms,
    logFile: prior.alive ? kafkaPaths(o).logFile : undefined,
  };
}

export async function ensureKafka(o) {
  const started = Date.now();
  const probe = await probeKafka(o.kafkaHost, o.kafkaPort);
  if (probe.state === 'kafka') return reusedKafka(o, started);
  if (!isLoopback(o.kafkaHost)) {
    throw new Error(
      `Kafka at ${o.kafkaAddress} is not reachable (${probe.detail}); the infra script only ` +
        'manages brokers on a loopback address.',
    );
  }
  if (probe.state === 'other' && !readKafkaState(o).alive) {
    throw notKafkaError(o.kafkaAddress, o.kafkaPort, probe.detail);
  }
  return withLock(`${o.brokerDir}.lock`, 'Kafka broker', o.log, () => startKafkaLocked(o, started));
}

/** Stops the broker this script started (never one it only reused); `clean` deletes its run dir. */
export async function stopManagedKafka(o, clean) {
  const result = { kafka: 'not-running', cleaned: false };
  await withLock(`${o.brokerDir}.lock`, 'Kafka broker', o.log, async () => {
    const prior = readKafkaState(o);
    if (prior.alive && prior.pid !== undefined) {
      const signal = await stopBrokerPid(o, prior.pid, 'SIGTERM');
      result.kafka = 'stopped';
      o.log(`stopped Kafka on ${o.kafkaAddress} (pid ${prior.pid}, ${signal})`);
    } else {
      clearKafkaState(o);
      const probe = await probeKafka(o.kafkaHost, o.kafkaPort, 1_000);
      result.kafka = probe.state === 'kafka' ? 'not-managed' : 'not-running';
      o.log(
        probe.state === 'kafka'
          ? `Kafka on ${o.kafkaAddress} was not started by this script; left running`
          : `no Kafka running on ${o.kafkaAddress}`,
      );
    }
    if (clean) {
      rm(o.brokerDir);
      result.cleaned = true;
      o.log(`removed ${o.brokerDir}`);
    }
  });
  return result;
}

#!/usr/bin/env node
// Local infrastructure for tests and `npm start`: a single-node KRaft Kafka broker run from the
// official Apache Kafka jars (resolved with Maven into a cache outside the clone) and a Redis.
// Plain JavaScript on purpose: it must run from a fresh clone before `tsc` ever ran.
//
//   node scripts/infra.mjs up | down [--clean] | status
//
// Environment: KAFKA_BROKERS (127.0.0.1:9092), KAFKA_CONTROLLER_PORT (broker port + 1),
// KAFKA_VERSION, KAFKA_HEAP_OPTS, REDIS_URL (redis://127.0.0.1:6379), DUALSTREAM_RUN_DIR,
// XDG_CACHE_HOME, DUALSTREAM_INFRA=docker (use `docker compose` when an engine is present).
// Types for TypeScript callers live in infra.d.mts.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Newest Kafka release verified with kafkajs 2.2.4 (see scripts/kafka/README.md). */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..');
const KAFKA_ASSETS = path.join(HERE, 'kafka');
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const STOP_GRACE_MS = 15_000;
const HALF_STARTED_GRACE_MS = 15_000;
const LOG4J2_VERSION = '2.24.3';
const SLF4J_1_VERSION = '1.7.36';

// ---------------------------------------------------------------------------------------------
// Options

function defaultLog(line) {
  console.log(`[infra] ${line}`);
}

/** Splits "host:port" (or "[::1]:port") into its parts. */
export function parseHostPort(hostPort, defaultPort) {
  const value = hostPort.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    return { host: bracketed[1], port: Number(bracketed[2] ?? defaultPort) };
  }
  const idx = value.lastIndexOf(':');
  if (idx === -1) return { host: value, port: defaultPort };
  return { host: value.slice(0, idx), port: Number(value.slice(idx + 1)) };
}

function isLoopback(host) {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

function resolveOptions(opts = {}) {
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

// ---------------------------------------------------------------------------------------------
// Probes

/**
 * Sends a Kafka ApiVersions v0 request over a raw socket. A reply that carries our correlation id
 * is Kafka; anything else on an open port is not. No client library retries, so it is fast.
 */
export function probeKafka(host, port, timeoutMs = 1500) {
  const correlationId = 0x5d5a0000 + Math.floor(Math.random() * 0xffff);
  const clientId = Buffer.from('dualstream-infra');
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4); // ApiVersions
  request.writeInt16BE(0, 6); // v0: every broker generation answers it
  request.writeInt32BE(correlationId, 8);
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);

  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let received = Buffer.alloc(0);
    const socket = net.connect({ host, port });
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish(
        connected
          ? {
              state: 'other',
              detail: `no reply to a Kafka ApiVersions request within ${timeoutMs} ms`,
            }
          : { state: 'closed', detail: `connect timed out after ${timeoutMs} ms` },
      );
    }, timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 8) return;
      const size = received.readInt32BE(0);
      const echoed = received.readInt32BE(4);
      if (echoed === correlationId && size >= 4 && size < 1_048_576) {
        finish({ state: 'kafka', detail: 'answered ApiVersions' });
      } else {
        const sample = JSON.stringify(received.subarray(0, 24).toString('latin1'));
        finish({ state: 'other', detail: `replied with non-Kafka bytes ${sample}` });
      }
    });
    socket.on('error', (err) => {
      finish(
        connected
          ? { state: 'other', detail: `connection failed after connect: ${err.message}` }
          : { state: 'closed', detail: err.code ?? err.message },
      );
    });
    socket.on('close', () => {
      finish({ state: 'other', detail: 'closed the connection without a Kafka reply' });
    });
  });
}

/** Sends an inline PING; "+PONG" or a Redis error reply ("-NOAUTH …") means Redis is there. */
export function probeRedis(host, port, timeoutMs = 1500) {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let received = '';
    const socket = net.connect({ host, port });
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish(
        connected
          ? { state: 'other', detail: `no reply to PING within ${timeoutMs} ms` }
          : { state: 'closed', detail: `connect timed out after ${timeoutMs} ms` },
      );
    }, timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write('PING\r\n');
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n')) return;
      if (received.startsWith('+PONG') || received.startsWith('-')) {
        finish({ state: 'redis', detail: received.trim() });
      } else {
        finish({ state: 'other', detail: `replied ${JSON.stringify(received.slice(0, 40))}` });
      }
    });
    socket.on('error', (err) => {
      finish(
        connected
          ? { state: 'other', detail: err.message }
          : { state: 'closed', detail: err.code ?? err.message },
      );
    });
    socket.on('close', () => finish({ state: 'other', detail: 'closed the connection' }));
  });
}

/** Best effort: which process listens on a local port (for error messages only). */
function describePortHolder(port) {
  const res = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (res.status !== 0 || !res.stdout) return '';
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(res.stdout);
  return m ? ` (process "${m[1]}", pid ${m[2]})` : '';
}

function notKafkaError(address, port, detail) {
  return new Error(
    `Port ${port} (${address}) is held by something that is not Kafka${describePortHolder(port)}: ` +
      `${detail}. Stop that process or point KAFKA_BROKERS at another port.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Processes, pid files and locks

function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
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

async function waitForExit(pid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

async function stopProcess(pid, graceMs, firstSignal = 'SIGTERM') {
  try {
    process.kill(pid, firstSignal);
  } catch {
    return firstSignal;
  }
  if (firstSignal === 'SIGKILL' || (await waitForExit(pid, graceMs))) {
    await waitForExit(pid, 5_000);
    return firstSignal;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited between the check and the kill.
  }
  await waitForExit(pid, 5_000);
  return 'SIGKILL';
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function readPid(file) {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function rm(file) {
  fs.rmSync(file, { force: true, recursive: true });
}

/**
 * Cross-process mutex: mkdir is atomic. A lock whose owner died (or that never got an owner
 * file within 30 s) is stale and taken over, so a killed run never blocks the next one.
 */
async function withLock(lockDir, what, log, fn, timeoutMs = 600_000) {
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'owner'), `${process.pid}\n`);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const owner = readPid(path.join(lockDir, 'owner'));
    let ageMs;
    try {
      ageMs = Date.now() - fs.statSync(lockDir).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (owner === undefined ? ageMs > 30_000 : !isAlive(owner)) {
      rm(lockDir);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for the ${what} lock held by pid ${owner} (${lockDir})`);
    }
    if (!announced) {
      log(`waiting for another process (pid ${owner ?? '?'}) that holds the ${what} lock`);
      announced = true;
    }
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    rm(lockDir);
  }
}

function commandExists(cmd, args = ['--version']) {
  const res = spawnSync(cmd, args, { stdio: 'ignore' });
  return !res.error;
}

function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Kafka: jars

function kafkaMajor(version) {
  return Number(version.split('.')[0]);
}

function loggingDependencies(version, slf4j2) {
  const dep = (g, a, v) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  if (kafkaMajor(version) < 4) {
    // Kafka 3.x ships reload4j behind slf4j 1.7.
    return dep('org.slf4j', 'slf4j-reload4j', SLF4J_1_VERSION);
  }
  const binding = slf4j2 ? 'log4j-slf4j2-impl' : 'log4j-slf4j-impl';
  return [
    dep('org.apache.logging.log4j', binding, LOG4J2_VERSION),
    dep('org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION),
  ].join('\n');
}

function runMaven(kafkaHome, version, slf4j2) {
  const template = fs.readFileSync(path.join(KAFKA_ASSETS, 'pom.xml.template'), 'utf8');
  const pom = template
    .replaceAll('@KAFKA_VERSION@', version)
    .replace('@LOGGING_DEPENDENCIES@', loggingDependencies(version, slf4j2));
  fs.writeFileSync(path.join(kafkaHome, 'pom.xml'), pom);
  rm(path.join(kafkaHome, 'libs'));
  const res = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      'dependency:copy-dependencies',
      '-DoutputDirectory=libs',
      '-DincludeScope=runtime',
    ],
    { cwd: kafkaHome, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (res.error || res.status !== 0) {
    const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.split('\n').slice(-30).join('\n');
    throw new Error(
      `Maven could not resolve org.apache.kafka:kafka_2.13:${version} ` +
        `(exit ${res.status ?? res.error?.message}). Is KAFKA_VERSION a released version?\n${output}`,
    );
  }
  return fs.readdirSync(path.join(kafkaHome, 'libs'));
}

async function ensureKafkaJars(o) {
  const stamp = path.join(o.kafkaHome, '.complete');
  if (fs.existsSync(stamp)) return { downloaded: false, ms: 0 };
  if (!commandExists('mvn')) {
    throw new Error(
      'Maven (mvn) is needed once to fetch the Kafka broker jars: apt-get install -y maven ' +
        '(or run `docker compose up -d kafka redis` and set DUALSTREAM_INFRA=docker).',
    );
  }
  return withLock(
    path.join(o.cacheDir, `kafka-${o.kafkaVersion}.lock`),
    'Kafka download',
    o.log,
    () => {
      if (fs.existsSync(stamp)) return { downloaded: false, ms: 0 };
      const started = Date.now();
      o.log(`resolving Apache Kafka ${o.kafkaVersion} jars with Maven into ${o.kafkaHome}`);
      fs.mkdirSync(o.kafkaHome, { recursive: true });
      let jars = runMaven(o.kafkaHome, o.kafkaVersion, false);
      if (kafkaMajor(o.kafkaVersion) >= 4 && jars.some((j) => /^slf4j-api-2\./.test(j))) {
        // This release moved to slf4j 2, which finds log4j through a different binding.
        jars = runMaven(o.kafkaHome, o.kafkaVersion, true);
      }
      if (!jars.some((j) => j.startsWith(`kafka_2.13-${o.kafkaVersion}`))) {
        throw new Error(`Maven finished but kafka_2.13-${o.kafkaVersion}.jar is missing`);
      }
      const ms = Date.now() - started;
      fs.writeFileSync(
        stamp,
        `${JSON.stringify({ version: o.kafkaVersion, jars: jars.length, ms, at: new Date() })}\n`,
      );
      o.log(`resolved ${jars.length} jars in ${seconds(ms)}`);
      return { downloaded: true, ms };
    },
  );
}

function ensureJava() {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (res.error) {
    throw new Error(
      'Java 17+ is needed to run the local Kafka broker: apt-get install -y openjdk-17-jre-headless ' +
        '(or run `docker compose up -d kafka redis` and set DUALSTREAM_INFRA=docker).',
    );
  }
  const m = /version "(\d+)/.exec(res.stderr ?? '');
  if (m && Number(m[1]) < 17) {
    throw new Error(`Kafka needs Java 17 or newer; \`java -version\` reports ${m[1]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka: config, storage, process

function kafkaPaths(o) {
  return {
    pidFile: path.join(o.brokerDir, 'kafka.pid'),
    stateFile: path.join(o.brokerDir, 'kafka.json'),
    logFile: path.join(o.brokerDir, 'kafka.log'),
    dataDir: path.join(o.brokerDir, `data-${o.kafkaVersion}`),
    propsFile: path.join(o.brokerDir, `server-${o.kafkaVersion}.properties`),
  };
}

function writeServerProperties(o, p) {
  const lines = [
    '# Written by scripts/infra.mjs for a throwaway single-node KRaft broker.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${o.kafkaHost}:${o.controllerPort}`,
    `listeners=PLAINTEXT://${o.kafkaAddress},CONTROLLER://${o.kafkaHost}:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${o.kafkaAddress}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${p.dataDir}`,
    'num.partitions=3',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    // After a kill -9 the restarted broker cannot register until the old incarnation's session
    // expires (DUPLICATE_BROKER_REGISTRATION): a short session keeps fault-injection restarts fast.
    'broker.session.timeout.ms=3000',
    'broker.heartbeat.interval.ms=750',
  ];
  if (kafkaMajor(o.kafkaVersion) >= 4) {
    lines.push(
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
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

function randomClusterId() {
  // Kafka cluster ids are base64url UUIDs; one starting with "-" would parse as a CLI flag.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Formats the KRaft storage once per broker dir and version; later starts keep the data. */
function ensureFormatted(o, p) {
  if (fs.existsSync(path.join(p.dataDir, 'meta.properties'))) return false;
  rm(p.dataDir);
  fs.mkdirSync(p.dataDir, { recursive: true });
  const clusterId = randomClusterId();
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

function spawnBroker(o, p) {
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

async function waitForBroker(o, pid, timeoutMs, logFile) {
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

function readKafkaState(o) {
  const p = kafkaPaths(o);
  const pid = readPid(p.pidFile);
  const state = readJson(p.stateFile);
  return { pid, version: state?.version, alive: pid !== undefined && isKafkaProcess(pid) };
}

function clearKafkaState(o) {
  const p = kafkaPaths(o);
  rm(p.pidFile);
  rm(p.stateFile);
}

async function stopBrokerPid(o, pid, signal, graceMs = STOP_GRACE_MS) {
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

async function ensureKafka(o) {
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

// ---------------------------------------------------------------------------------------------
// Redis

function redisPaths(o) {
  return {
    pidFile: path.join(o.runDir, `redis-${o.redisPort}.pid`),
    managedFile: path.join(o.runDir, `redis-${o.redisPort}.managed`),
    logFile: path.join(o.runDir, `redis-${o.redisPort}.log`),
  };
}

async function ensureRedis(o) {
  const started = Date.now();
  const probe = await probeRedis(o.redisHost, o.redisPort);
  if (probe.state === 'redis') {
    o.log(`Redis already answering on ${o.redisHost}:${o.redisPort} (reused)`);
    return {
      url: o.redisUrl,
      reused: true,
      managed: isRedisManaged(o),
      pid: undefined,
      startMs: 0,
    };
  }
  if (probe.state === 'other') {
    throw new Error(
      `Port ${o.redisPort} is held by something that is not Redis${describePortHolder(o.redisPort)}: ` +
        `${probe.detail}`,
    );
  }
  const hint =
    'install redis-server (apt-get install -y redis-server) or run `docker compose up -d redis`';
  if (!isLoopback(o.redisHost)) {
    throw new Error(`Redis at ${o.redisUrl} is not reachable (${probe.detail}); ${hint}.`);
  }
  if (!commandExists('redis-server')) {
    throw new Error(
      `No Redis answers on ${o.redisHost}:${o.redisPort} and redis-server is missing: ${hint}.`,
    );
  }
  const p = redisPaths(o);
  fs.mkdirSync(o.runDir, { recursive: true });
  const res = spawnSync(
    'redis-server',
    [
      '--port',
      String(o.redisPort),
      '--bind',
      o.redisHost === 'localhost' ? '127.0.0.1' : o.redisHost,
      '--daemonize',
      'yes',
      '--pidfile',
      p.pidFile,
      '--logfile',
      p.logFile,
      '--dir',
      o.runDir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--notify-keyspace-events',
      'Ex',
      '--maxmemory-policy',
      'noeviction',
    ],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) {
    throw new Error(
      `redis-server failed to start (exit ${res.status}): ${res.stderr}${tail(p.logFile, 10)}`,
    );
  }
  const deadline = Date.now() + 10_000;
  while ((await probeRedis(o.redisHost, o.redisPort, 500)).state !== 'redis') {
    if (Date.now() > deadline) {
      throw new Error(`redis-server did not answer PING within 10 s:\n${tail(p.logFile, 10)}`);
    }
    await sleep(100);
  }
  fs.writeFileSync(p.managedFile, `${new Date().toISOString()}\n`);
  const pid = readPid(p.pidFile);
  const startMs = Date.now() - started;
  o.log(`started redis-server on ${o.redisHost}:${o.redisPort} (pid ${pid}) in ${startMs} ms`);
  return { url: o.redisUrl, reused: false, managed: true, pid, startMs };
}

function isRedisManaged(o) {
  const p = redisPaths(o);
  return fs.existsSync(p.managedFile) && isAlive(readPid(p.pidFile) ?? -1);
}

// ---------------------------------------------------------------------------------------------
// Docker (optional)

function dockerAvailable() {
  return spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

function dockerCompose(o, args) {
  const res = spawnSync('docker', ['compose', ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (res.status !== 0)
    throw new Error(`docker compose ${args.join(' ')} failed (exit ${res.status})`);
}

async function dockerUp(o, started) {
  o.log('DUALSTREAM_INFRA=docker: docker compose up -d kafka redis');
  dockerCompose(o, ['up', '-d', 'kafka', 'redis']);
  if (!(await waitForBroker(o, undefined, o.startTimeoutMs, '(docker compose logs kafka)'))) {
    throw new Error(
      `Kafka from docker compose did not serve metadata within ${seconds(o.startTimeoutMs)}`,
    );
  }
  const startMs = Date.now() - started;
  o.log(`Kafka (docker) ready on ${o.kafkaAddress} in ${seconds(startMs)}`);
  return {
    mode: 'docker',
    kafka: {
      address: o.kafkaAddress,
      reused: false,
      managed: false,
      version: undefined,
      pid: undefined,
      formatted: false,
      downloaded: false,
      downloadMs: 0,
      startMs,
      totalMs: startMs,
      logFile: undefined,
    },
    redis: o.redis ? await ensureRedis({ ...o, log: () => {} }) : undefined,
    totalMs: Date.now() - started,
  };
}

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
  const redis = o.redis ? await ensureRedis(o) : undefined;
  const kafka = o.kafka ? await ensureKafka(o) : undefined;
  return { mode: 'local', kafka, redis, totalMs: Date.now() - started };
}

/** Stops only what infraUp started: the broker from its pid file and a redis-server it ran. */
export async function infraDown(opts = {}) {
  const o = resolveOptions(opts);
  const result = { kafka: 'not-running', redis: 'not-managed', cleaned: false };
  if (o.wantDocker && dockerAvailable()) {
    dockerCompose(o, ['stop', 'kafka', 'redis']);
    return { ...result, kafka: 'stopped', redis: 'stopped' };
  }
  if (o.kafka) {
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
      if (opts.clean) {
        rm(o.brokerDir);
        result.cleaned = true;
        o.log(`removed ${o.brokerDir}`);
      }
    });
  }
  if (o.redis) {
    const p = redisPaths(o);
    const pid = readPid(p.pidFile);
    if (fs.existsSync(p.managedFile) && pid !== undefined && isAlive(pid)) {
      await stopProcess(pid, 5_000, 'SIGTERM');
      result.redis = 'stopped';
      o.log(`stopped redis-server on port ${o.redisPort} (pid ${pid})`);
    }
    rm(p.managedFile);
    if (pid !== undefined && !isAlive(pid)) rm(p.pidFile);
  }
  return result;
}

/** Reports what answers on the configured ports and what this script manages. */
export async function infraStatus(opts = {}) {
  const o = resolveOptions(opts);
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

/** Fault injection: kills the managed broker (SIGKILL by default) and keeps its data dir. */
export async function killKafka(opts = {}) {
  const o = resolveOptions(opts);
  const signal = opts.signal ?? 'SIGKILL';
  const prior = readKafkaState(o);
  if (!prior.alive || prior.pid === undefined) {
    throw new Error(`No Kafka broker started by this script runs on ${o.kafkaAddress}`);
  }
  const used = await stopBrokerPid(o, prior.pid, signal);
  o.log(`killed Kafka on ${o.kafkaAddress} (pid ${prior.pid}, ${used})`);
  return { pid: prior.pid, signal: used };
}

/** Starts the broker again on the same storage dir (topics and offsets survive). */
export async function startKafka(opts = {}) {
  const o = resolveOptions({ ...opts, redis: false });
  return ensureKafka(o);
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(argv) {
  const [command, ...rest] = argv;
  const started = Date.now();
  switch (command) {
    case 'up': {
      const res = await infraUp();
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
      await infraDown({ clean: rest.includes('--clean') });
      return 0;
    case 'status': {
      const s = await infraStatus();
      return s.kafka.state === 'kafka' && s.redis.state === 'redis' ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/infra.mjs up | down [--clean] | status');
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

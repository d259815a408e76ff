// Redis: reuse one that answers PING, otherwise start a daemonized redis-server on a loopback
// port (marked as ours with a `.managed` file in the run dir) and stop only that one again.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describePortHolder, isLoopback, probeRedis } from './probe.mjs';
import { commandExists, isAlive, readPid, rm, stopProcess, tail } from './processes.mjs';

function redisPaths(o) {
  return {
    pidFile: path.join(o.runDir, `redis-${o.redisPort}.pid`),
    managedFile: path.join(o.runDir, `redis-${o.redisPort}.managed`),
    logFile: path.join(o.runDir, `redis-${o.redisPort}.log`),
  };
}

export async function ensureRedis(o) {
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

export function isRedisManaged(o) {
  const p = redisPaths(o);
  return fs.existsSync(p.managedFile) && isAlive(readPid(p.pidFile) ?? -1);
}

/** Stops the redis-server this script started; a Redis it only reused is left alone. */
export async function stopManagedRedis(o) {
  let state = 'not-managed';
  const p = redisPaths(o);
  const pid = readPid(p.pidFile);
  if (fs.existsSync(p.managedFile) && pid !== undefined && isAlive(pid)) {
    await stopProcess(pid, 5_000, 'SIGTERM');
    state = 'stopped';
    o.log(`stopped redis-server on port ${o.redisPort} (pid ${pid})`);
  }
  rm(p.managedFile);
  if (pid !== undefined && !isAlive(pid)) rm(p.pidFile);
  return state;
}

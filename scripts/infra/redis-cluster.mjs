// A Redis Cluster of 3 masters and 3 replicas on loopback ports (REDIS_CLUSTER_PORT, default
// 17000, and the five above it), each a daemonized redis-server with its own dir under
// <run dir>/redis-cluster-<port>/, joined with `redis-cli --cluster create`. Only what this
// module started (pid files) is ever stopped.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeRedis } from './probe.mjs';
import { commandExists, isAlive, readPid, rm, stopProcess, tail, withLock } from './processes.mjs';

const NODES = 6;

function dirOf(o) {
  return path.join(o.runDir, `redis-cluster-${o.redisClusterPort}`);
}

/** Ports of the six nodes; the first three become masters. */
export function redisClusterPorts(o) {
  return Array.from({ length: NODES }, (_, i) => o.redisClusterPort + i);
}

/** The `redis+cluster://` URL that names every node. */
export function redisClusterUrl(o) {
  return `redis+cluster://${redisClusterPorts(o)
    .map((p) => `127.0.0.1:${p}`)
    .join(',')}`;
}

function nodePaths(o, port) {
  const dir = path.join(dirOf(o), String(port));
  return {
    dir,
    pidFile: path.join(dir, 'redis.pid'),
    logFile: path.join(dir, 'redis.log'),
  };
}

function cli(args) {
  return spawnSync('redis-cli', args, { encoding: 'utf8' });
}

/** Whether every replica among `ports` has its link to its master up (its first sync done). */
function replicasInSync(ports) {
  for (const port of ports) {
    const res = cli(['-h', '127.0.0.1', '-p', String(port), 'info', 'replication']);
    if (res.status !== 0) return false;
    if (/role:slave/.test(res.stdout) && !/master_link_status:up/.test(res.stdout)) return false;
  }
  return true;
}

async function clusterOk(port) {
  const res = cli(['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']);
  return res.status === 0 && /cluster_state:ok/.test(res.stdout);
}

function startNode(o, port) {
  const p = nodePaths(o, port);
  fs.mkdirSync(p.dir, { recursive: true });
  const res = spawnSync(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--daemonize',
      'yes',
      '--pidfile',
      p.pidFile,
      '--logfile',
      p.logFile,
      '--dir',
      p.dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      // A dead master's replica is promoted after this long (and the node counts as failed).
      '--cluster-node-timeout',
      '2000',
      '--save',
      '',
      '--appendonly',
      'no',
      // BullMQ needs it; ownership needs expired-key events.
      '--maxmemory-policy',
      'noeviction',
      '--notify-keyspace-events',
      'Ex',
    ],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) {
    throw new Error(`redis-server on port ${port} did not start: ${res.stderr || res.stdout}`);
  }
}

async function waitPing(port, logFile) {
  for (let i = 0; i < 100; i++) {
    if ((await probeRedis('127.0.0.1', port, 500)).state === 'redis') return;
    await sleep(100);
  }
  throw new Error(`redis-server on port ${port} does not answer:\n${tail(logFile)}`);
}

/** Starts the six nodes and creates the cluster unless it already serves. Safe to repeat. */
export async function ensureRedisCluster(o) {
  const started = Date.now();
  const ports = redisClusterPorts(o);
  return withLock(`${dirOf(o)}.lock`, 'Redis cluster', o.log, async () => {
    if (await clusterOk(ports[0])) {
      o.log(`Redis Cluster already serving on ${ports[0]}-${ports.at(-1)} (reused)`);
      return { url: redisClusterUrl(o), reused: true, startMs: 0, pids: pidsOf(o) };
    }
    if (!commandExists('redis-server') || !commandExists('redis-cli')) {
      throw new Error(
        'A Redis Cluster needs redis-server and redis-cli (apt-get install redis-server)',
      );
    }
    for (const port of ports) {
      const probe = await probeRedis('127.0.0.1', port, 500);
      if (probe.state === 'closed') {
        // A fresh node: a nodes.conf from an earlier, half-made cluster would block the create.
        rm(nodePaths(o, port).dir);
        startNode(o, port);
      } else if (probe.state === 'other') {
        throw new Error(`Port ${port} is held by something that is not Redis: ${probe.detail}`);
      }
    }
    for (const port of ports) await waitPing(port, nodePaths(o, port).logFile);
    const res = cli([
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    if (res.status !== 0 || !/All 16384 slots covered/.test(res.stdout)) {
      throw new Error(`redis-cli --cluster create failed:\n${res.stdout}${res.stderr}`);
    }
    for (let i = 0; i < 100 && !(await clusterOk(ports[0])); i++) await sleep(100);
    // Ready means replicated: until a replica's first sync is done, a master's writes (and a
    // WAIT for them) have nowhere to go, and a failover would lose everything.
    for (let i = 0; !replicasInSync(ports); i++) {
      if (i >= 300)
        throw new Error('Redis Cluster replicas did not sync with their masters in 30 s');
      await sleep(100);
    }
    const startMs = Date.now() - started;
    o.log(
      `Redis Cluster (3 masters, 3 replicas) ready on ${ports[0]}-${ports.at(-1)} in ${startMs} ms`,
    );
    return { url: redisClusterUrl(o), reused: false, startMs, pids: pidsOf(o) };
  });
}

function pidsOf(o) {
  return Object.fromEntries(
    redisClusterPorts(o).map((port) => [port, readPid(nodePaths(o, port).pidFile)]),
  );
}

/** kill -9 (or `signal`) the node on `port`; its pid file goes with it. */
export async function killRedisNode(o, port, signal = 'SIGKILL') {
  const p = nodePaths(o, port);
  const pid = readPid(p.pidFile);
  if (pid === undefined || !isAlive(pid)) throw new Error(`No managed Redis node on port ${port}`);
  await stopProcess(pid, 5_000, signal);
  rm(p.pidFile);
  return pid;
}

/** Start the node on `port` again with its nodes.conf: it rejoins (as a replica if it was failed over). */
export async function restartRedisNode(o, port) {
  startNode(o, port);
  await waitPing(port, nodePaths(o, port).logFile);
  return readPid(nodePaths(o, port).pidFile);
}

/** Stops every node this module started; `clean` removes their dirs. */
export async function stopRedisCluster(o, clean) {
  let stopped = 0;
  await withLock(`${dirOf(o)}.lock`, 'Redis cluster', o.log, async () => {
    await Promise.all(
      redisClusterPorts(o).map(async (port) => {
        const pid = readPid(nodePaths(o, port).pidFile);
        if (pid !== undefined && isAlive(pid)) {
          await stopProcess(pid, 5_000, 'SIGTERM');
          stopped += 1;
        }
      }),
    );
    o.log(`stopped ${stopped} Redis Cluster node(s)`);
    if (clean) rm(dirOf(o));
  });
  return stopped > 0 ? 'stopped' : 'not-managed';
}

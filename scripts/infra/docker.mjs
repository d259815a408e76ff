// Optional Docker mode (DUALSTREAM_INFRA=docker): `docker compose` runs Kafka and Redis from the
// repo's docker-compose.yml when an engine answers.

import { spawnSync } from 'node:child_process';
import { waitForBroker } from './kafka.mjs';
import { REPO_ROOT } from './options.mjs';
import { seconds } from './processes.mjs';
import { ensureRedis } from './redis.mjs';

export function dockerAvailable() {
  return spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

export function dockerCompose(o, args) {
  const res = spawnSync('docker', ['compose', ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (res.status !== 0)
    throw new Error(`docker compose ${args.join(' ')} failed (exit ${res.status})`);
}

export async function dockerUp(o, started) {
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

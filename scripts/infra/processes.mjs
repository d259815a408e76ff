// Process, pid-file, lock and log helpers shared by the Kafka and Redis parts of the infra script.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
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

export async function stopProcess(pid, graceMs, firstSignal = 'SIGTERM') {
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

export function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function readPid(file) {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function rm(file) {
  fs.rmSync(file, { force: true, recursive: true });
}

/**
 * Cross-process mutex: mkdir is atomic. A lock whose owner died (or that never got an owner
 * file within 30 s) is stale and taken over, so a killed run never blocks the next one.
 */
export async function withLock(lockDir, what, log, fn, timeoutMs = 600_000) {
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

export function commandExists(cmd, args = ['--version']) {
  const res = spawnSync(cmd, args, { stdio: 'ignore' });
  return !res.error;
}

export function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

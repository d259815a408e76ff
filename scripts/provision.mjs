// Provision a Debian package that a test needs (a browser, Prometheus) when its binary is missing.
// Used by the test command itself, so that `npm install && npm test` needs nothing installed by
// hand on a Debian machine where packages may be installed (root, or password-less sudo).
// Elsewhere it throws with the exact command to run.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function canInstall() {
  if (process.platform !== 'linux' || !executable('/usr/bin/apt-get')) return null;
  if (process.getuid?.() === 0) return [];
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n'] : null;
}

let updated = false;

/**
 * Make sure `binary` exists, installing Debian package `pkg` with apt-get when it does not.
 * @param {{ binary: string, pkg: string, log?: (line: string) => void }} options
 * @returns {string} the binary's path
 */
export function ensureDebianBinary({ binary, pkg, log = () => undefined }) {
  if (executable(binary)) return binary;
  const prefix = canInstall();
  const command = `apt-get update && apt-get install -y ${pkg}`;
  if (prefix === null) {
    throw new Error(`${binary} is missing and packages cannot be installed here; run: ${command}`);
  }
  const run = (args) => {
    const [cmd, ...rest] = [...prefix, ...args];
    const r = spawnSync(cmd, rest, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) {
      throw new Error(
        `installing ${pkg} failed (${args.join(' ')} exited ${r.status}): ${String(r.stderr).slice(-500)}; run: ${command}`,
      );
    }
  };
  log(`${binary} is missing: installing Debian package ${pkg}`);
  if (!updated) {
    run(['apt-get', 'update', '-q']);
    updated = true;
  }
  run(['apt-get', 'install', '-y', '-q', pkg]);
  if (!executable(binary)) throw new Error(`${pkg} was installed but ${binary} is still missing`);
  return binary;
}

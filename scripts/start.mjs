#!/usr/bin/env node
// `npm start`: bring up local Kafka and Redis (reused when already running), build dist/ when it
// is missing, then run `dualstream start` with the arguments given after `npm start --`
// (e.g. `npm start -- --demo`). Plain JavaScript so it runs from a fresh clone.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const args = process.argv.slice(2);

if (process.env.DUALSTREAM_SKIP_INFRA !== '1') {
  const { infraUp } = await import('./infra.mjs');
  try {
    await infraUp();
  } catch (err) {
    console.error(
      `npm start: could not bring up local Kafka/Redis: ${err instanceof Error ? err.message : err}`,
    );
    console.error(
      'Set KAFKA_BROKERS / REDIS_URL to running services and DUALSTREAM_SKIP_INFRA=1 to skip this step.',
    );
    process.exit(1);
  }
}

if (!existsSync(cli)) {
  console.log('npm start: dist/ is missing, running `npm run build` first');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// A child process (not an import) so that its graceful shutdown and exit code are the CLI's own.
// SIGTERM/SIGINT sent to us alone (docker stop through npm, `kill <pid>`) are passed on. A signal
// sent to the whole process group (Ctrl+C, systemd, `timeout`) reaches the child directly as well,
// so it sees two copies a few ms apart: the CLI counts copies that close together as one request
// (src/lifecycle/signal-gate.ts), and only a later signal forces exit.
const child = spawn(process.execPath, [cli, 'start', ...args], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0));
});

// `npm start` (scripts/start.mjs, which runs `dualstream start` as a child) under a process
// manager that signals the whole process group, as systemd, `timeout` and a terminal's Ctrl+C do:
// the child gets the signal twice (directly and forwarded by its parent) and must still shut down
// gracefully, once. The real built CLI is used, so dist/ is rebuilt first.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, REDIS_URL, removeStartRun, uniq, waitFor } from '../helpers/pipeline-kit.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));

interface Run {
  code: number | null;
  output: string;
}

/** Start `npm start`'s script in its own process group, wait until it serves, group-signal it. */
async function startThenSignalGroup(signal: NodeJS.Signals): Promise<Run> {
  const id = uniq('sig');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DUALSTREAM_SKIP_INFRA: '1',
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_QUEUE: `${id}-q`,
    KAFKA_TOPIC: `${id}-topic`,
    DUALSTREAM_SERVICE: `${id}-svc`,
    PORT: '0',
    LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, [START], { env, cwd: ROOT, detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => output.includes('dualstream is running'), 60_000, `start-up (${output})`);
    process.kill(-child.pid!, signal);
    const code = await exited;
    return { code, output };
  } finally {
    // Whatever happened, nothing of this group outlives the test.
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await removeStartRun(env);
  }
}

describe('npm start and a process-group signal', () => {
  beforeAll(() => {
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  }, 300_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`one group ${signal} is one graceful shutdown (exit 0, no "second signal")`, async () => {
      const run = await startThenSignalGroup(signal);
      // The start-up line names the queue, the topic and the brokers.
      const messages = run.output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(messages).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^publish worker: queue "sig-\\w+-q" -> Kafka topic "sig-\\w+-topic" at ${BROKERS}`,
          ),
        ),
      );
      expect(run.output).toContain('shutting down gracefully');
      expect(run.output).not.toContain('second signal');
      expect(run.code, run.output).toBe(0);
    });
  }
});

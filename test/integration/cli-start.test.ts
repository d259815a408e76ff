// `dualstream start --demo` as a real process: prints the board URL and a generated password
// that works, the demo's broken event fails with its reason, valid events are published, and
// SIGTERM shuts everything down gracefully (exit 0).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { BROKERS, REDIS_URL, removeStartRun, uniq, waitFor } from '../helpers/pipeline-kit.js';
import { basic } from '../helpers/server-kit.js';
import { trackEdgePrefix } from '../helpers/edge-cleanup.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));

describe('dualstream start --demo', () => {
  const id = uniq('start');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_QUEUE: `${id}-q`,
    KAFKA_TOPIC: `${id}-topic`,
    DUALSTREAM_SERVICE: `${id}-svc`,
    DUALSTREAM_CHANNEL_PREFIX: trackEdgePrefix(`${id}-events`),
    PORT: '0',
    LOG_LEVEL: 'silent',
  };
  let child: ChildProcessWithoutNullStreams | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await removeStartRun(env);
  });

  it('serves the board with a generated password, runs the demo, and stops on SIGTERM', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', '--demo'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child!.on('exit', (code) => resolve(code)),
    );

    await waitFor(
      () => /Login: .*password "([^"]+)"/.test(stdout),
      30_000,
      `the banner (stderr: ${stderr})`,
    );
    const url = /Bull Board: +(http:\/\/\S+)\/admin\/queues/.exec(stdout)![1]!;
    const password = /password "([^"]+)"/.exec(stdout)![1]!;
    expect(stdout).toMatch(/user "admin"/);

    expect((await fetch(`${url}/admin/queues/api/queues`)).status).toBe(401);
    const ok = await fetch(`${url}/admin/queues/api/queues`, {
      headers: { authorization: basic('admin', password) },
    });
    expect(ok.status).toBe(200);
    const names = ((await ok.json()) as { queues: Array<{ name: string }> }).queues.map(
      (q) => q.name,
    );
    expect(names).toEqual(
      expect.arrayContaining([env.DUALSTREAM_QUEUE, `${env.DUALSTREAM_SERVICE}-ownership`]),
    );

    const queue = new Queue(env.DUALSTREAM_QUEUE, { connection: { url: REDIS_URL } });
    try {
      await waitFor(async () => (await queue.getFailedCount()) === 1, 30_000, 'the demo failure');
      const [failed] = await queue.getFailed();
      expect(failed?.failedReason).toMatch(/sourceId must not contain whitespace/);
      await waitFor(
        async () => (await queue.getCompletedCount()) >= 1,
        30_000,
        'a demo event published',
      );
      await waitFor(() => /\[demo\] notification on /.test(stdout), 30_000, 'a demo notification');
    } finally {
      await queue.close();
    }

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+/);
  });
});

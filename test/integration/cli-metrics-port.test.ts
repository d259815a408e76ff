// `dualstream worker --metrics-port 0` and `dualstream ingest` with METRICS_PORT as real processes
// against the real Kafka and Redis: the start-up log line names the metrics URL, /metrics counts
// the events the worker published (bearer token required when BOARD_TOKEN is set, open when not),
// /healthz answers, and SIGTERM still shuts down with exit 0.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { DualstreamConfig } from '../../src/config/index.js';
import { createPublishQueue, enqueueEvents } from '../../src/queue/index.js';
import {
  BROKERS,
  REDIS_URL,
  createTopic,
  deleteTopics,
  obliterate,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';
import { runCli } from '../helpers/server-kit.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STACK = /\n\s+at .+[:(]\d+/;

/** A `dualstream` child process whose output is collected as it arrives. */
interface Child {
  process: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startCli(args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Wait for the pino start-up line that carries `metricsUrl` and return that URL. */
async function metricsUrlOf(child: Child, what: string): Promise<string> {
  let url: string | undefined;
  await waitFor(
    () => {
      for (const line of child.stdout().split('\n')) {
        if (!line.includes('"metricsUrl"')) continue;
        const entry = JSON.parse(line) as { metricsUrl: string; msg: string };
        expect(entry.msg).toBe(`${what} running; metrics at ${entry.metricsUrl}`);
        url = entry.metricsUrl;
      }
      return url !== undefined || child.process.exitCode !== null;
    },
    20_000,
    `the ${what} start-up line (stderr: ${child.stderr()})`,
  );
  if (url === undefined) throw new Error(`${what} exited early: ${child.stderr()}`);
  return url;
}

/** The value of one sample line, e.g. `dualstream_events_published_total{topic="t"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function envOf(config: DualstreamConfig, extra: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_QUEUE: config.queue.name,
    KAFKA_TOPIC: config.kafka.topic,
    DUALSTREAM_CHANNEL_PREFIX: config.events.channelPrefix,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

describe('metrics endpoint of standalone worker and ingest processes', () => {
  const config = testConfig();
  const service = uniq('svc');
  const token = `metrics-token-${uniq('k')}`;
  const children: Child[] = [];
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    await createTopic(config.kafka.topic);
  });

  afterAll(async () => {
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
    await obliterate(config.queue.name);
    await obliterate(`${service}-ownership`);
    // The ingester's load-balancer stream and group of this unique service name.
    for await (const keys of redis.scanStream({ match: `${service}*`, count: 100 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
    await redis.quit();
    await deleteTopics(config.kafka.topic);
  });

  it('worker --metrics-port 0: token-guarded /metrics counts its publishes; SIGTERM exits 0', async () => {
    const worker = startCli(
      ['worker', '--metrics-port', '0'],
      envOf(config, { BOARD_TOKEN: token, WORKER_CONCURRENCY: '4' }),
    );
    children.push(worker);
    const url = await metricsUrlOf(worker, 'publish worker');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const base = url.slice(0, -'/metrics'.length);
    const bearer = { authorization: `Bearer ${token}` };

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const open = await fetch(url);
    expect(open.status).toBe(401);
    expect(open.headers.get('www-authenticate')).toBe('Bearer realm="dualstream"');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(
      401,
    );
    expect((await fetch(`${base}/admin/queues`, { headers: bearer })).status).toBe(404);

    const queue = createPublishQueue(config, { connection: redis });
    try {
      const ids = [uniq('ev'), uniq('ev')];
      await enqueueEvents(
        queue,
        ids.map((id) => ({ id, type: 'push', sourceType: 'repo', sourceId: 'metrics/port' })),
      );
      const series = `dualstream_events_published_total{topic="${config.kafka.topic}"}`;
      let text = '';
      await waitFor(
        async () => {
          const res = await fetch(url, { headers: bearer });
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
          text = await res.text();
          return sample(text, series) === 2;
        },
        20_000,
        `${series} = 2 (last scrape: ${text.slice(0, 2000)})`,
      );
      // The publish counter moves inside the processor, before BullMQ marks the job completed:
      // wait for the completed state itself rather than assert it right after the metric.
      await waitFor(
        async () => (await queue.getCompletedCount()) === 2,
        20_000,
        'both jobs completed',
      );
      expect(sample(text, 'dualstream_kafka_produce_seconds_count')).toBeGreaterThanOrEqual(1);
      // Queue depth is left to the HTTP server: the dashboard sums it over instances.
      expect(text).not.toMatch(/^dualstream_queue_jobs\{/m);
      // Node process metrics come from the same registry.
      expect(text).toMatch(/^dualstream_process_cpu_user_seconds_total /m);
    } finally {
      await queue.close();
    }

    worker.process.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.stderr()).not.toMatch(STACK);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('ingest with METRICS_PORT and no BOARD_TOKEN: /metrics is open; SIGTERM exits 0', async () => {
    const ingest = startCli(
      ['ingest', '--service', service],
      envOf(config, { METRICS_PORT: '0', LOCK_TTL_MS: '1000', SWEEP_INTERVAL_MS: '1000' }),
    );
    children.push(ingest);
    const url = await metricsUrlOf(ingest, 'stream ingester');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(sample(text, 'dualstream_streams_owned')).toBe(0);
    expect(text).toContain('# TYPE dualstream_ownership_claims_total counter');

    ingest.process.kill('SIGTERM');
    expect(await ingest.exited).toBe(0);
    expect(ingest.stderr()).not.toMatch(STACK);
  });

  it('without a metrics port no endpoint is opened; a bad METRICS_PORT exits 2 naming it', async () => {
    const bad = await runCli(['worker', '--metrics-port', '70000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/METRICS_PORT: .*70000/);
    expect(bad.stderr).not.toMatch(STACK);
    const help = await runCli(['ingest', '--help']);
    expect(help.stdout).toContain('--metrics-port <port>');

    const worker = startCli(['worker'], envOf(config, {}));
    children.push(worker);
    await waitFor(
      () => worker.stdout().includes('"msg":"publish worker running"'),
      20_000,
      `the worker start-up line (stderr: ${worker.stderr()})`,
    );
    expect(worker.stdout()).not.toContain('metricsUrl');
    worker.process.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });
});

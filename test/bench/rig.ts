// The rig shared by the latency bench and the soak: one `dualstream worker` process on a unique
// queue, topic and channel prefix; a plain BullMQ app that adds events at a fixed rate; and a
// Redis subscriber that times every add → id-only notification.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { removeOrderState } from '../../src/order/index.js';
import { removeEdgeState } from '../../src/realtime/keys.js';
import { deleteMatching } from '../../src/redis.js';
import { metricsUrlOf, startCliChild, startUrlOf, type CliChild } from '../helpers/cli-child.js';

export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The nearest-rank percentile of an ascending list (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface RigOptions {
  ordering: 'source' | 'none';
  /** KAFKA_CLIENT of the worker. @defaultValue kafkajs */
  client?: 'kafkajs' | 'platformatic';
  /** Extra environment for the worker. */
  env?: Record<string, string>;
  /** Serve the worker's /metrics (RSS, event-loop lag). @defaultValue false */
  metrics?: boolean;
  /** Run id prefix. @defaultValue `rig` */
  name?: string;
  /**
   * `worker` (the default), or `start`: worker and HTTP server (the real-time edge) in one
   * process, with a bearer token for its API and its /metrics.
   */
  command?: 'worker' | 'start';
}

/** A running worker with its producer and notification timer. */
export interface Rig {
  readonly run: string;
  readonly channelPrefix: string;
  readonly worker: CliChild;
  /** The worker's /metrics URL when `metrics` was asked for (or the command is `start`). */
  readonly metricsUrl: string | undefined;
  /** With `start`: the server's base URL and the `authorization` header its API wants. */
  readonly server: { url: string; authorization: string } | undefined;
  /**
   * Add events at `rate` per second for `seconds`; `onArrive(index, ms)` hears each
   * notification with its add → notification time. Resolves once every add was acknowledged.
   */
  addAtRate(
    rate: number,
    seconds: number,
    sources: number,
    onArrive: (index: number, ms: number) => void,
    onAdd?: (id: string, sourceId: string, t0: number) => void,
  ): Promise<{ added: number; addSeconds: number }>;
  /** Events added whose notification has not arrived yet. */
  pending(): number;
  /** Stop the worker and remove the queue, its order state and the topic. */
  close(): Promise<void>;
}

/** Start a worker and wait until it publishes a probe event. */
export async function startRig(options: RigOptions): Promise<Rig> {
  const run = `${options.name ?? 'rig'}-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({
    clientId: run,
    brokers: BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: run, numPartitions: 6 }], waitForLeaders: true });

  const sub = new Redis(REDIS_URL);
  const sentAt = new Map<
    string,
    { t0: number; index: number; onArrive: (i: number, ms: number) => void }
  >();
  sub.on('pmessage', (_p: string, _c: string, message: string) => {
    const now = performance.now();
    const { id } = JSON.parse(message) as { id: string };
    const sent = sentAt.get(id);
    if (!sent) return;
    sentAt.delete(id);
    sent.onArrive(sent.index, now - sent.t0);
  });
  await sub.psubscribe(`${run}:*`);
  const queue = new Queue(run, { connection: { url: REDIS_URL } });
  const serving = options.command === 'start';
  const bearer = randomUUID();
  const args = serving
    ? ['start']
    : ['worker', ...(options.metrics ? ['--metrics-port', '0'] : [])];
  const worker = startCliChild(serving ? 'start' : 'worker', args, {
    REDIS_URL,
    KAFKA_BROKERS: BROKERS,
    KAFKA_TOPIC: run,
    DUALSTREAM_QUEUE: run,
    DUALSTREAM_CHANNEL_PREFIX: run,
    // `start` runs an ingester too: its ownership queue and keys get the run's name.
    DUALSTREAM_SERVICE: run,
    ORDERING: options.ordering,
    KAFKA_CLIENT: options.client ?? 'kafkajs',
    // The worker's metrics URL is on its info-level start-up line.
    LOG_LEVEL: options.metrics && !serving ? 'info' : 'warn',
    ...(serving ? { PORT: '0', BOARD_TOKEN: bearer } : {}),
    ...options.env,
  });

  const close = async (): Promise<void> => {
    await worker.stop('SIGTERM', 15_000);
    await sub.quit().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    if (serving) {
      const ownership = new Queue(`${run}-ownership`, { connection: { url: REDIS_URL } });
      await ownership.obliterate({ force: true }).catch(() => undefined);
      await ownership.close();
    }
    const redis = new Redis(REDIS_URL);
    await removeOrderState(redis, 'bull', run)
      .then(() => removeEdgeState(redis, 'bull', run))
      .then(() => (serving ? deleteMatching(redis, `${run}-*`) : 0))
      .finally(() => redis.quit());
    await admin.deleteTopics({ topics: [run] }).catch(() => undefined);
    await admin.disconnect();
  };

  try {
    const base = serving ? await startUrlOf(worker) : undefined;
    const server = base ? { url: base, authorization: `Bearer ${bearer}` } : undefined;
    const metricsUrl = base
      ? `${base}/metrics`
      : options.metrics
        ? await metricsUrlOf(worker)
        : undefined;
    let probed = false;
    sentAt.set(`${run}-probe`, { t0: 0, index: -1, onArrive: () => (probed = true) });
    await queue.add('event', {
      id: `${run}-probe`,
      type: 'probe',
      sourceType: 'rig',
      sourceId: 'probe',
    });
    const readyBy = Date.now() + 60_000;
    while (!probed) {
      if (worker.process.exitCode !== null) {
        throw new Error(`worker exited: ${worker.stderr().slice(-2000)}`);
      }
      if (Date.now() > readyBy) throw new Error('worker did not publish the probe in 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    let next = 0;
    return {
      run,
      channelPrefix: run,
      worker,
      metricsUrl,
      server,
      pending: () => sentAt.size,
      close,
      async addAtRate(rate, seconds, sources, onArrive, onAdd) {
        // Every 2 ms, add what the schedule says is due; adds are not awaited one by one (a real
        // app's requests arrive independently).
        const total = Math.round(rate * seconds);
        const start = performance.now();
        const adds: Array<Promise<unknown>> = [];
        let added = 0;
        await new Promise<void>((done) => {
          const tick = (): void => {
            const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
            for (; added < due; added += 1) {
              const n = next++;
              const id = `${run}-${n}`;
              const t0 = performance.now();
              sentAt.set(id, { t0, index: added, onArrive });
              onAdd?.(id, `s-${n % sources}`, t0);
              adds.push(
                queue.add('event', {
                  id,
                  type: 'push',
                  sourceType: 'rig',
                  sourceId: `s-${n % sources}`,
                  payload: { n, text: 'x'.repeat(200) },
                }),
              );
            }
            if (added >= total) done();
            else setTimeout(tick, 2);
          };
          tick();
        });
        const addSeconds = (performance.now() - start) / 1000;
        await Promise.all(adds);
        return { added: total, addSeconds };
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { DualstreamConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import { createRedis } from '../redis.js';
import { enqueueEvent } from '../queue/index.js';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  publishQueue: Queue;
  logger: Logger;
  /** Time between demo events. @defaultValue 2000 ms */
  intervalMs?: number;
  /** Where the demo prints what it does. @defaultValue stdout */
  print?: (line: string) => void;
}

/** Source type of the demo events; the demo subscribes to `<channelPrefix>:demo:*`. */
export const DEMO_SOURCE_TYPE = 'demo';

/**
 * A small producer for a first run: one valid event every couple of seconds (watch them complete
 * in Bull Board and arrive on Pub/Sub), plus one broken event added with a plain `queue.add`, the
 * way an existing app would, which the worker rejects: it shows up as a failed job with its
 * reason.
 */
export async function startDemo(
  config: DualstreamConfig,
  options: DemoOptions,
): Promise<{ close(): Promise<void> }> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const interval = options.intervalMs ?? 2000;
  const subscriber = createRedis(config.redis.pubsubUrl, { name: 'dualstream-demo-subscriber' });
  subscriber.on('error', (err) => options.logger.debug({ err }, 'demo subscriber error'));
  const pattern = `${config.events.channelPrefix}:${DEMO_SOURCE_TYPE}:*`;
  subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
    print(`[demo] notification on ${channel}: ${message}`);
  });
  await subscriber.psubscribe(pattern);
  print(`[demo] subscribed to ${pattern}`);

  const brokenId = `demo-broken-${randomUUID()}`;
  // Deliberately invalid (whitespace and ":" in sourceId): it bypasses enqueueEvent's validation,
  // so the worker fails it with a readable reason instead of sending it to Kafka.
  await options.publishQueue.add(
    'demo.broken',
    { id: brokenId, type: 'demo.broken', sourceType: DEMO_SOURCE_TYPE, sourceId: 'not a valid:id' },
    { jobId: brokenId },
  );
  print(
    `[demo] added an invalid event (job ${brokenId}); it will fail on purpose — see Bull Board`,
  );

  let n = 0;
  let stopped = false;
  const tick = async () => {
    n += 1;
    try {
      const { id } = await enqueueEvent(
        options.publishQueue,
        {
          type: 'demo.tick',
          sourceType: DEMO_SOURCE_TYPE,
          sourceId: `sensor-${(n % 3) + 1}`,
          payload: { n, at: new Date().toISOString() },
        },
        {
          maxQueueDepth: config.queue.maxQueueDepth,
          timeoutMs: config.queue.backpressureTimeoutMs,
        },
      );
      print(`[demo] enqueued demo.tick #${n} (job ${id})`);
    } catch (err) {
      if (!stopped) options.logger.warn({ err }, 'demo producer could not enqueue');
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), interval);
  return {
    async close() {
      stopped = true;
      clearInterval(timer);
      await subscriber.quit().catch(() => undefined);
    },
  };
}

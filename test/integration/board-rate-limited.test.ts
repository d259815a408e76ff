// Bull Board's "rate limited" badge on the publish queue: absent while jobs flow (the worker's
// placeholder limiter counts every job in the limiter key, which used to read as "rate limited
// 1s"), present during a real Kafka cool-down (network to the shared broker cut client-side),
// gone again once Kafka is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createApp } from '../../src/server/app.js';
import { startServer, type StartedServer } from '../../src/server/listen.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import { createPublishQueue, createPublishWorker, enqueueEvent } from '../../src/queue/index.js';
import { silentLogger } from '../../src/logger.js';
import {
  REDIS_URL,
  createTopic,
  cuttableNetwork,
  teardownPipeline,
  testConfig,
  waitFor,
} from '../helpers/pipeline-kit.js';
import { basic } from '../helpers/server-kit.js';

describe('Bull Board rate-limit badge', () => {
  const config = testConfig({
    BOARD_USER: 'operator',
    BOARD_PASSWORD: 'badge-password-123',
    PORT: '0',
    KAFKA_FAILURE_THRESHOLD: '1',
    KAFKA_COOLDOWN_MS: '4000',
    JOB_ATTEMPTS: '5',
    BACKOFF_DELAY_MS: '100',
  });
  const redis = new Redis(REDIS_URL);
  const queue = createPublishQueue(config, { connection: redis });
  let publisher: ReturnType<typeof createDualPublisher>;
  let worker: ReturnType<typeof createPublishWorker>;
  let server: StartedServer;
  let net: Awaited<ReturnType<typeof cuttableNetwork>>;

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 1);
    net = await cuttableNetwork();
    publisher = createDualPublisher(config, {
      producerOptions: {
        socketFactory: net.socketFactory,
        retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 },
        connectionTimeout: 500,
        requestTimeout: 2000,
      },
    });
    worker = createPublishWorker(config, { publisher, drainDelay: 1 });
    server = await startServer(
      createApp({ config, publishQueue: queue, redis, publisher, logger: silentLogger() }),
      config,
      silentLogger(),
    );
  });

  afterAll(async () => {
    await server?.close();
    await teardownPipeline(config, worker, publisher, queue);
    await redis.quit();
  });

  /** What the board's UI reads: the publish queue's `activeRateLimitTtl`. */
  const badgeTtl = async (): Promise<number> => {
    const res = await fetch(`${server.url}/admin/queues/api/queues`, {
      headers: { authorization: basic('operator', 'badge-password-123') },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      queues: Array<{ name: string; activeRateLimitTtl: number }>;
    };
    return body.queues.find((q) => q.name === config.queue.name)!.activeRateLimitTtl;
  };

  const event = (id: string) => ({
    id,
    type: 'push',
    sourceType: 'repo',
    sourceId: 'acme/badge',
    payload: {},
  });

  it('shows no rate limit while jobs flow, one during a Kafka cool-down, none after', async () => {
    for (let i = 0; i < 3; i++) {
      await enqueueEvent(queue, event(`flow-${i}`));
      await waitFor(async () => (await queue.getJobState(`flow-${i}`)) === 'completed');
      // Right after a job the limiter key holds its count with a TTL: not a rate limit.
      expect(await badgeTtl()).toBe(0);
    }

    net.cut();
    await enqueueEvent(queue, event('outage-1'));
    let seen = 0;
    await waitFor(
      async () => (seen = await badgeTtl()) > 0,
      30_000,
      'the cool-down to show on the board',
    );
    expect(seen).toBeLessThanOrEqual(4000);

    net.restore();
    await waitFor(
      async () => (await queue.getJobState('outage-1')) === 'completed',
      30_000,
      'the held job to publish after the outage',
    );
    await waitFor(async () => (await badgeTtl()) === 0, 10_000, 'the badge to clear');
  });
});

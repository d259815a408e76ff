// The operator's path in a real browser: a publish fails for real (Kafka rejects the record as too
// large for the topic), the operator sees the failed job and its reason in Bull Board, fixes the
// topic, clicks Retry, and the event lands in Kafka. Needs a Chromium: CHROMIUM_PATH, or Debian's
// /usr/bin/chromium, which test/global-setup.ts installs when it is missing and packages may be
// installed. Without one this test FAILS (with the command to run) rather than silently passing.
import { removeOrderState } from '../../src/order/index.js';
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { createApp } from '../../src/server/app.js';
import { startServer, type StartedServer } from '../../src/server/listen.js';
import {
  createPublishQueue,
  createPublishWorker,
  enqueueEvent,
  type PublishWorker,
} from '../../src/queue/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/logger.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import {
  REDIS_URL,
  deleteTopics,
  readTopic,
  testConfig,
  waitFor,
} from '../helpers/pipeline-kit.js';
import { createLimitedTopic, setTopicMaxMessageBytes } from '../helpers/server-kit.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const DOCS = new URL('../../docs/', import.meta.url);
const USER = 'operator';
const PASSWORD = 'board-password-123';

describe('Bull Board in a browser', () => {
  let config: DualstreamConfig;
  let redis: Redis;
  let queue: Queue;
  let worker: PublishWorker;
  let server: StartedServer;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const provisioned = inject('chromium');
    if ('error' in provisioned) {
      throw new Error(`No browser for this test (it does not skip): ${provisioned.error}`);
    }
    const CHROMIUM = provisioned.path;
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No browser at ${CHROMIUM} (CHROMIUM_PATH). This test does not skip.`);
    }
    config = testConfig({
      BOARD_USER: USER,
      BOARD_PASSWORD: PASSWORD,
      PORT: '0',
      JOB_ATTEMPTS: '1',
      KAFKA_FAILURE_THRESHOLD: '1000',
      WORKER_CONCURRENCY: '4',
    });
    await createLimitedTopic(config.kafka.topic, 1024);
    redis = new Redis(REDIS_URL);
    queue = createPublishQueue(config, { connection: redis });
    const metrics = new DualstreamMetrics();
    worker = createPublishWorker(config, { metrics, logger: silentLogger(), drainDelay: 1 });
    server = await startServer(
      createApp({
        config,
        publishQueue: queue,
        redis,
        publisher: worker,
        metrics,
        logger: silentLogger(),
      }),
      config,
      silentLogger(),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    if (redis) await removeOrderState(redis, 'bull', config.queue.name);
    await redis?.quit();
    if (config) await deleteTopics(config.kafka.topic);
  });

  it('shows a failed publish with its reason; Retry in the UI publishes it to Kafka', async () => {
    const id = 'browser-evt-1';
    await enqueueEvent(queue, {
      id,
      type: 'issue.opened',
      sourceType: 'repo',
      sourceId: 'acme/widgets',
      payload: { body: 'x'.repeat(3000) },
    });
    await waitFor(
      async () => (await queue.getJobState(id)) === 'failed',
      30_000,
      'the publish to fail',
    );
    const failed = await queue.getJob(id);
    // The reason names the topic, the record's size and the topic's limit.
    expect(failed?.failedReason).toMatch(
      new RegExp(
        `too large: topic "${config.kafka.topic}": record of \\d+ bytes, the topic's max message size \\(max.message.bytes\\) is 1024 bytes`,
      ),
    );

    // The operator fixes the topic, then retries from the board.
    await setTopicMaxMessageBytes(config.kafka.topic, 1_048_576);

    const context = await browser!.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    // The server's Content-Security-Policy (helmet) must not break the board: any violation
    // the browser reports fails the test.
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    try {
      await page.goto(
        `${server.url}/admin/queues/queue/${encodeURIComponent(config.queue.name)}?status=failed`,
      );
      await page
        .getByText("the topic's max message size (max.message.bytes) is 1024 bytes")
        .first()
        .waitFor({ timeout: 20_000 });
      await expect(
        page.getByText('issue.opened — repo/acme/widgets').first().isVisible(),
      ).resolves.toBe(true);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({
        path: new URL('board-failed.png', ARTIFACTS).pathname,
        fullPage: true,
      });
      // The README's screenshot is refreshed only on request, so a test run leaves the tracked
      // tree untouched: DUALSTREAM_UPDATE_DOCS=1 npx vitest run test/integration/browser-board.test.ts
      if (process.env.DUALSTREAM_UPDATE_DOCS === '1') {
        mkdirSync(DOCS, { recursive: true });
        await page.screenshot({ path: new URL('board.png', DOCS).pathname });
      }

      // The job card's action buttons are icons whose name shows as a tooltip on hover: find
      // the one whose tooltip says "Retry", the way an operator would.
      const icons = page.locator('ul[class*="jobActions"] li button');
      let clicked = false;
      for (let i = 0; i < (await icons.count()) && !clicked; i++) {
        const b = icons.nth(i);
        await b.hover();
        const tip = page.getByText('Retry', { exact: true }).first();
        const shown = await tip
          .waitFor({ state: 'visible', timeout: 1500 })
          .then(() => true)
          .catch(() => false);
        if (shown) {
          await b.click();
          clicked = true;
        }
      }
      expect(clicked, 'found the Retry button of the job card').toBe(true);
      const question = page.getByText('Are you sure that you want to retry this job?');
      const asked = await question
        .waitFor({ state: 'visible', timeout: 2000 })
        .then(() => true)
        .catch(() => false);
      if (asked) {
        await page.getByRole('button', { name: 'Confirm', exact: true }).click();
      }
      await waitFor(
        async () => (await queue.getJobState(id)) === 'completed',
        30_000,
        'the retried job to complete',
      );

      await page.goto(
        `${server.url}/admin/queues/queue/${encodeURIComponent(config.queue.name)}?status=completed`,
      );
      await page.getByText('issue.opened — repo/acme/widgets').first().waitFor({ timeout: 20_000 });
      await page.screenshot({
        path: new URL('board-completed.png', ARTIFACTS).pathname,
        fullPage: true,
      });
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }

    const records = await readTopic(config.kafka.topic);
    const mine = records.filter((r) => r.headers['event-id'] === id);
    expect(mine).toHaveLength(1);
    expect(JSON.parse(mine[0]!.value)).toMatchObject({
      id,
      type: 'issue.opened',
      sourceId: 'acme/widgets',
    });
    const done = await queue.getJob(id);
    expect(done?.returnvalue).toMatchObject({ id, topic: config.kafka.topic, partition: 0 });
  });
});

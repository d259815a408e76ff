// The HTTP app against a real publish queue (Redis) and a real Kafka broker: auth on the board,
// its API and the ingest endpoint; validation, body limits and backpressure answers; probes and
// metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { createApp } from '../../src/server/app.js';
import { startServer, type StartedServer } from '../../src/server/listen.js';
import { createKafkaPing, type KafkaPing } from '../../src/server/kafka-ping.js';
import { createPublishQueue } from '../../src/queue/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/logger.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import { REDIS_URL, closedPort, testConfig } from '../helpers/pipeline-kit.js';
import { basic } from '../helpers/server-kit.js';

const USER = 'operator';
const PASSWORD = 'correct-horse-battery';
const TOKEN = 'tok-0123456789abcdef-xyz';

describe('HTTP server', () => {
  let config: DualstreamConfig;
  let redis: Redis;
  let queue: Queue;
  let kafkaPing: KafkaPing;
  let deadKafka: KafkaPing;
  let server: StartedServer;
  let deadServer: StartedServer;
  let metrics: DualstreamMetrics;
  const auth = basic(USER, PASSWORD);

  beforeAll(async () => {
    config = testConfig({
      BOARD_USER: USER,
      BOARD_PASSWORD: PASSWORD,
      BOARD_TOKEN: TOKEN,
      PORT: '0',
      BODY_LIMIT_BYTES: '4096',
      MAX_QUEUE_DEPTH: '3',
      BACKPRESSURE_TIMEOUT_MS: '200',
    });
    redis = new Redis(REDIS_URL);
    queue = createPublishQueue(config, { connection: redis });
    kafkaPing = createKafkaPing(config);
    metrics = new DualstreamMetrics();
    server = await startServer(
      createApp({
        config,
        publishQueue: queue,
        redis,
        kafkaPing: () => kafkaPing.ping(),
        metrics,
        logger: silentLogger(),
      }),
      config,
      silentLogger(),
    );
    // The same app with Kafka unreachable, for /readyz.
    const port = await closedPort();
    deadKafka = createKafkaPing({ kafka: { ...config.kafka, brokers: [`127.0.0.1:${port}`] } });
    deadServer = await startServer(
      createApp({
        config,
        publishQueue: queue,
        redis,
        kafkaPing: () => deadKafka.ping(),
        logger: silentLogger(),
      }),
      config,
      silentLogger(),
    );
  });

  afterAll(async () => {
    await server?.close();
    await deadServer?.close();
    await kafkaPing?.close();
    await deadKafka?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await redis?.quit();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth, ...headers },
      body,
    });

  describe('auth', () => {
    const guarded = ['/admin/queues', '/admin/queues/api/queues'];
    for (const path of guarded) {
      it(`401 for ${path} without credentials, with a wrong password, and a wrong token`, async () => {
        const attempts: Array<Record<string, string>> = [
          {},
          { authorization: basic(USER, 'wrong-password') },
          { authorization: basic('someone', PASSWORD) },
          { authorization: 'Bearer not-the-token-at-all' },
          { authorization: 'Basic !!!not-base64' },
        ];
        for (const headers of attempts) {
          const res = await fetch(`${server.url}${path}`, { headers });
          expect(res.status).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Basic realm="dualstream"');
          expect(await res.json()).toEqual({ error: expect.stringMatching(/credentials/) });
        }
      });
    }

    it('serves the board and its API with basic auth or the bearer token', async () => {
      const page = await fetch(`${server.url}/admin/queues`, { headers: { authorization: auth } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const api = await fetch(`${server.url}/admin/queues/api/queues`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(api.status).toBe(200);
      const body = (await api.json()) as { queues: Array<{ name: string }> };
      expect(body.queues.map((q) => q.name)).toContain(config.queue.name);
    });

    it('401 for POST /v1/events without credentials, and nothing reaches the queue', async () => {
      const before = await queue.count();
      const res = await fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'push', sourceType: 'repo', sourceId: 'a' }),
      });
      expect(res.status).toBe(401);
      const wrong = await post(
        JSON.stringify({ type: 'push', sourceType: 'repo', sourceId: 'a' }),
        {
          authorization: basic(USER, 'nope-nope-nope'),
        },
      );
      expect(wrong.status).toBe(401);
      expect(await queue.count()).toBe(before);
    });

    it('/metrics needs the bearer token (basic auth is not enough); probes are public', async () => {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${server.url}/metrics`, { headers: { authorization: auth } })).status,
      ).toBe(401);
      const ok = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(ok.status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect([200, 503]).toContain((await fetch(`${server.url}/readyz`)).status);
    });
  });

  describe('POST /v1/events', () => {
    it('202 with the ids; a second post of the same id is a duplicate no-op', async () => {
      const event = { id: 'evt-http-1', type: 'push', sourceType: 'repo', sourceId: 'owner/repo' };
      const res = await post(JSON.stringify(event));
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: [{ id: 'evt-http-1', duplicate: false }] });
      const again = await post(JSON.stringify(event));
      expect(await again.json()).toEqual({ accepted: [{ id: 'evt-http-1', duplicate: true }] });
      const job = await queue.getJob('evt-http-1');
      expect(job?.name).toBe('push');
      await job?.remove();
    });

    it('400 with the issues (and their index) for an array with bad events; nothing is enqueued', async () => {
      const before = await queue.count();
      const res = await post(
        JSON.stringify([
          { type: 'push', sourceType: 'repo', sourceId: 'ok' },
          { type: 'push', sourceType: 'repo', sourceId: 'has space' },
          { type: 42, sourceType: 'repo', sourceId: 'x' },
        ]),
      );
      expect(res.status).toBe(400);
      const body = (await res.json()) as {
        error: string;
        issues: Array<{ index: number; path: string; message: string; code: string }>;
      };
      expect(body.error).toMatch(/nothing was enqueued/);
      expect(body.issues).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ index: 1, path: 'sourceId', code: expect.any(String) }),
          expect.objectContaining({ index: 2, path: 'type', message: 'type must be a string' }),
        ]),
      );
      expect(body.issues.some((i) => i.index === 0)).toBe(false);
      expect(await queue.count()).toBe(before);
    });

    it('400 with a JSON error for malformed JSON, never an HTML stack trace', async () => {
      const res = await post('{"type": "push", ');
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await res.json()) as { error: string };
      expect(body.error).toMatch(/^Malformed JSON/);
      expect(JSON.stringify(body)).not.toMatch(/at .*\.js:\d+/);
    });

    it('400 for an empty array and for a JSON scalar', async () => {
      expect((await post('[]')).status).toBe(400);
      const scalar = await post('"just a string"');
      expect(scalar.status).toBe(400);
      expect(await scalar.json()).toMatchObject({
        issues: [{ message: 'event must be a JSON object' }],
      });
    });

    it('413 with a JSON error above the body limit', async () => {
      const res = await post(
        JSON.stringify({ type: 'push', sourceType: 'r', sourceId: 'x', payload: 'x'.repeat(5000) }),
      );
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        error: 'Request body is larger than the limit of 4096 bytes',
      });
    });

    it('415 for a body that is not JSON', async () => {
      const res = await post('type=push', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(415);
      expect(await res.json()).toEqual({
        error: 'Content-Type must be application/json, got "application/x-www-form-urlencoded"',
      });
    });

    it('405 with Allow: POST for other methods on /v1/events (the path exists)', async () => {
      const res = await fetch(`${server.url}/v1/events`, { headers: { authorization: auth } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toEqual({
        error: 'Method not allowed: POST one event or an array of events',
      });
      const del = await fetch(`${server.url}/v1/events`, {
        method: 'DELETE',
        headers: { authorization: auth },
      });
      expect(del.status).toBe(405);
    });

    it('a missing field is "required", a wrong type "must be a string"', async () => {
      const res = await post(JSON.stringify({ sourceType: 'repo', sourceId: 7 }));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { issues: Array<{ path: string; message: string }> };
      expect(body.issues).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: 'type', message: 'type is required' }),
          expect.objectContaining({ path: 'sourceId', message: 'sourceId must be a string' }),
        ]),
      );
    });

    it('503 with Retry-After when the queue is over maxQueueDepth (no worker drains it)', async () => {
      const events = [1, 2, 3, 4].map((n) => ({
        id: `bp-${n}`,
        type: 't',
        sourceType: 'bp',
        sourceId: `s${n}`,
      }));
      const fill = await post(JSON.stringify(events.slice(0, 3)));
      expect(fill.status).toBe(202);
      const res = await post(JSON.stringify(events[3]));
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await res.json()).toMatchObject({ error: expect.stringMatching(/queue is full/) });
      expect(await queue.getJob('bp-4')).toBeUndefined();
      for (const e of events) await (await queue.getJob(e.id))?.remove();
    });

    it('counts accepted and rejected events with entry="http"', async () => {
      const text = await metrics.registry.getSingleMetricAsString(
        'dualstream_events_rejected_total',
      );
      expect(text).toMatch(/dualstream_events_rejected_total\{entry="http"\} [1-9]/);
      const acc = await metrics.registry.getSingleMetricAsString(
        'dualstream_events_accepted_total',
      );
      expect(acc).toMatch(/dualstream_events_accepted_total\{entry="http"\} [1-9]/);
    });
  });

  describe('probes and metrics', () => {
    it('/readyz is 200 with every check ok against the real Kafka and Redis', async () => {
      const res = await fetch(`${server.url}/readyz`);
      const body = (await res.json()) as {
        status: string;
        checks: Record<string, { ok: boolean }>;
      };
      expect(res.status).toBe(200);
      expect(body.status).toBe('ready');
      expect(Object.keys(body.checks).sort()).toEqual(['kafka', 'pubsubRedis', 'redis']);
      expect(Object.values(body.checks).every((c) => c.ok)).toBe(true);
    });

    it('/readyz is 503 naming the failed check when Kafka is unreachable', async () => {
      const res = await fetch(`${deadServer.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: Record<string, { ok: boolean }> };
      expect(body.checks.kafka?.ok).toBe(false);
      expect(body.checks.redis?.ok).toBe(true);
    });

    it('/metrics refreshes queue depth by state on scrape', async () => {
      await queue.add(
        't',
        { type: 't', sourceType: 'm', sourceId: 'x' },
        { jobId: 'metric-1', delay: 60_000 },
      );
      const res = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const text = await res.text();
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      expect(text).toContain(
        `dualstream_queue_jobs{queue="${config.queue.name}",state="delayed"} 1`,
      );
      expect(text).toContain('dualstream_events_published_total');
      await (await queue.getJob('metric-1'))?.remove();
    });

    it('every response carries the security headers: board, API, probes, 401, 404, errors', async () => {
      const bearer = { authorization: `Bearer ${TOKEN}` };
      const responses = await Promise.all([
        fetch(`${server.url}/admin/queues`, { headers: { authorization: auth } }),
        fetch(`${server.url}/admin/queues`),
        fetch(`${server.url}/admin/queues/api/queues`, { headers: { authorization: auth } }),
        fetch(`${server.url}/healthz`),
        fetch(`${server.url}/readyz`),
        fetch(`${server.url}/metrics`, { headers: bearer }),
        fetch(`${server.url}/nope`),
        post('{"type": '),
      ]);
      expect(responses.map((r) => r.status)).toEqual([200, 401, 200, 200, 200, 200, 404, 400]);
      for (const res of responses) {
        const csp = res.headers.get('content-security-policy') ?? '';
        expect(csp, res.url).toContain("frame-ancestors 'none'");
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toContain('upgrade-insecure-requests');
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('x-powered-by')).toBeNull();
      }
    });

    it('unknown paths answer 404 JSON', async () => {
      const res = await fetch(`${server.url}/nope`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'Not found' });
    });
  });
});

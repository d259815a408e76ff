// The observability files against a real Prometheus (Debian's 2.42, provisioned by
// scripts/provision.mjs when missing): promtool accepts dashboards/alerts.yml and
// dashboards/prometheus.yml, the rules pass their unit tests (test/rules/alerts.test.yml), and
// every expression of dashboards/grafana-dashboard.json returns data when Prometheus scrapes the
// running product under a little load.
//
// The product runs as users run it, as child processes against the shared Kafka and Redis:
// `dualstream ingest --metrics-port 0` (B), `dualstream start` (A: worker, ingester, HTTP server)
// and `dualstream board` (C: a second HTTP server, reporting the same queues as A). Load: valid
// events over HTTP, one invalid POST (rejected), one invalid job added with a plain queue.add
// (fails validation, lands in the failed set), entries on a data stream that B owns. Then B is
// killed with SIGKILL: A takes its stream over, which is what the failover-time panels plot, and
// the scrape of B fails, which DualstreamTargetDown reports.
//
// Two panels can only be non-zero during a fault (Kafka cool-downs, notification failures): here
// they must return their series (with value 0); prometheus-alerts.test.ts causes both faults and
// requires them to be above zero there.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addStream } from '../../src/ownership/index.js';
import {
  BROKERS,
  REDIS_URL,
  createTopic,
  deleteTopics,
  obliterate,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';
import { metricsUrlOf, startCliChild, startUrlOf, type CliChild } from '../helpers/cli-child.js';
import {
  DASHBOARDS,
  alertState,
  ensurePrometheus,
  fastRules,
  promtool,
  startPrometheus,
  type RunningPrometheus,
  type Sample,
} from '../helpers/prometheus-kit.js';
import { REQUIRED_ALERTS } from '../helpers/alert-names.js';
import { trackEdgePrefix } from '../helpers/edge-cleanup.js';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(
  readFileSync(path.join(DASHBOARDS, 'grafana-dashboard.json'), 'utf8'),
) as { panels: Panel[] };
const panelExpressions = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);

const RULE_TESTS = fileURLToPath(new URL('../rules/alerts.test.yml', import.meta.url));

/** Durations of the rules copy loaded here (see fastRules); the shipped file is checked as is. */
const FAST = { forDuration: '5s', window: '30s' };

describe('Prometheus: rules, config and every dashboard panel against the running product', () => {
  const id = uniq('obs');
  const service = `${id}-svc`;
  const token = `token-${uniq('m')}`;
  const env = {
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_SERVICE: service,
    DUALSTREAM_QUEUE: `${id}-q`,
    KAFKA_TOPIC: `${id}-topic`,
    DUALSTREAM_CHANNEL_PREFIX: trackEdgePrefix(`${id}-events`),
    BOARD_TOKEN: token,
    LOCK_TTL_MS: '1000',
    SWEEP_INTERVAL_MS: '1000',
    WORKER_CONCURRENCY: '16',
  };
  const dataStream = `${service}-data-1`;
  const children: CliChild[] = [];
  let prom: RunningPrometheus | undefined;
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    ensurePrometheus((line) => console.log(`[provision] ${line}`));
    await createTopic(env.KAFKA_TOPIC, 2);
  }, 600_000);

  afterAll(async () => {
    for (const c of children) await c.stop('SIGTERM');
    await prom?.close();
    await obliterate(env.DUALSTREAM_QUEUE);
    await obliterate(`${service}-ownership`);
    for await (const keys of redis.scanStream({ match: `${service}*`, count: 100 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
    await redis.quit();
    await deleteTopics(env.KAFKA_TOPIC);
  });

  it('promtool accepts the shipped rules and config, and the fast test copy of the rules', async () => {
    const rules = await promtool(['check', 'rules', path.join(DASHBOARDS, 'alerts.yml')]);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(rules.code, rules.output).toBe(0);
    // check config also checks the rule files the config names.
    const config = await promtool(['check', 'config', path.join(DASHBOARDS, 'prometheus.yml')]);
    expect(config.code, config.output).toBe(0);
    expect(config.output).toContain('alerts.yml');
    expect(config.output).not.toMatch(/FAILED/);
    // Unit tests of every alert with synthetic series, firing and non-firing cases.
    const unit = await promtool(['test', 'rules', RULE_TESTS]);
    expect(unit.code, unit.output).toBe(0);
    expect(unit.output).toContain('SUCCESS');

    const running = await startPrometheus({
      targets: [],
      rules: [{ name: 'fast.yml', text: fastRules(FAST) }],
    });
    try {
      const fast = await promtool(['check', 'rules', path.join(running.dir, 'fast.yml')]);
      expect(fast.code, fast.output).toBe(0);
      // Prometheus itself loaded every rule of the copy.
      const res = (await (await fetch(`${running.url}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: Array<{ name: string }> }> };
      };
      const loaded = res.data.groups.flatMap((g) => g.rules.map((r) => r.name));
      expect(loaded).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    } finally {
      await running.close();
    }
  });

  it('every panel expression returns at least one series', { timeout: 300_000 }, async () => {
    expect(panelExpressions.length).toBeGreaterThanOrEqual(19);

    // B first, and alone when the stream is registered, so that B owns it.
    const b = startCliChild('ingest B', ['ingest', '--metrics-port', '0'], {
      ...env,
      LOG_LEVEL: 'info',
    });
    children.push(b);
    const bUrl = new URL(await metricsUrlOf(b));
    const redisEntry = (n: number) =>
      redis.xadd(
        dataStream,
        '*',
        'event',
        JSON.stringify({
          type: 'push',
          sourceType: 'repo',
          sourceId: `${id}/ingest`,
          payload: { n },
        }),
      );
    await redisEntry(0);
    await addStream(redis, service, dataStream);
    const owned = async (url: URL) => {
      const text = await (
        await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      ).text();
      return /^dualstream_streams_owned 1$/m.test(text);
    };
    await waitFor(() => owned(bUrl), 30_000, 'B to own the data stream');

    const server = {
      ...env,
      PORT: '0',
      BOARD_USER: 'operator',
      BOARD_PASSWORD: 'operator-password-123',
      LOG_LEVEL: 'warn',
    };
    const a = startCliChild('start A', ['start'], server);
    // A second HTTP server reports the same queue depth as A: the queue panels must not count
    // the queue twice.
    const c = startCliChild('board C', ['board'], server);
    children.push(a, c);
    const aBase = await startUrlOf(a);
    const aUrl = new URL(`${aBase}/metrics`);
    const cUrl = new URL(`${await startUrlOf(c)}/metrics`);

    prom = await startPrometheus({
      targets: [aUrl.host, bUrl.host, cUrl.host],
      token,
      rules: [{ name: 'alerts.yml', text: fastRules(FAST) }],
    });
    const p = prom;
    // Scraped before any load: rate() and increase() count only what a series gained after
    // Prometheus first saw it.
    await waitFor(
      async () =>
        (await p.query('up{job="dualstream"} == 1')).length === 3 &&
        (await p.query('dualstream_streams_owned == 1')).length === 1,
      30_000,
      `all three targets up in Prometheus, B owning the stream (log: ${p.log()})`,
    );

    const post = (body: unknown) =>
      fetch(`${aBase}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // A subscriber of the real-time edge, so its panels (fan-out, latency) have data.
    const subscriber = new AbortController();
    const stream = await fetch(`${aBase}/v1/subscribe?channel=repo:*`, {
      headers: { authorization: `Bearer ${token}` },
      signal: subscriber.signal,
    });
    expect(stream.status).toBe(200);
    void stream.body?.pipeTo(new WritableStream()).catch(() => undefined);
    let loading = true;
    let round = 0;
    const load = (async () => {
      while (loading) {
        round++;
        const events = Array.from({ length: 5 }, (_, i) => ({
          type: 'push',
          sourceType: 'repo',
          sourceId: `${id}/http-${i % 3}`,
          payload: { round, i },
        }));
        const res = await post(events);
        if (res.status !== 202 && res.status !== 200) {
          throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
        }
        if (round % 3 === 0) await redisEntry(round);
        await sleep(300);
      }
    })();
    try {
      // An invalid POST (rejected by the API) and an invalid job from a plain producer (fails
      // validation in the worker and stays in the failed set).
      const bad = await post({ type: 'push', sourceType: 'repo', sourceId: 'has space' });
      expect(bad.status).toBe(400);
      const plain = new Queue(env.DUALSTREAM_QUEUE, { connection: { url: REDIS_URL } });
      try {
        await plain.add('push', { type: 'push', sourceType: 'repo', sourceId: 'bad id' });
        await waitFor(async () => (await plain.getFailedCount()) === 1, 30_000, 'the failed job');
      } finally {
        await plain.close();
      }

      // A few scrapes of the load before B dies.
      await sleep(3000);

      await b.stop('SIGKILL');
      await waitFor(() => owned(aUrl), 30_000, 'A to take the stream over from B');
      await waitFor(
        async () => (await p.query('sum(dualstream_failover_seconds_count) >= 1')).length === 1,
        30_000,
        'the failover in Prometheus',
      );

      // Every panel: at least one series and no NaN (a histogram quantile over no observations
      // is NaN: a series, but an empty panel). Polled, since rate() needs two scrapes.
      const results = new Map<string, Sample[]>();
      const withoutData = () =>
        panelExpressions.filter(({ expr }) => {
          const r = results.get(expr);
          return !r || r.length === 0 || r.some((s) => Number.isNaN(s.value));
        });
      await waitFor(
        async () => {
          for (const { expr } of panelExpressions) results.set(expr, await p.query(expr));
          return withoutData().length === 0;
        },
        60_000,
        'every panel expression to return data',
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}: ${JSON.stringify(withoutData().map((e) => ({ ...e, result: results.get(e.expr) })))}`,
        );
      });
      console.log(
        '[panels] series per expression:\n' +
          panelExpressions
            .map(({ panel, expr }) => {
              const r = results.get(expr) ?? [];
              const values = r.map((s) => Number(s.value.toPrecision(3))).join(', ');
              return `  ${r.length}  ${panel} | ${expr}  = ${values}`;
            })
            .join('\n'),
      );
      for (const { panel, expr } of panelExpressions) {
        expect(results.get(expr)?.length, `${panel}: ${expr}`).toBeGreaterThanOrEqual(1);
      }
      // What the load caused is what the panels show.
      const value = (expr: string, label?: [string, string]) =>
        results.get(expr)?.find((s) => !label || s.metric[label[0]] === label[1])?.value ?? NaN;
      expect(value('sum(rate(dualstream_events_published_total[1m]))')).toBeGreaterThan(0);
      expect(value('sum(rate(dualstream_edge_fanout_total[1m]))')).toBeGreaterThan(0);
      // One failed job, reported by two servers.
      expect(
        (await p.query('dualstream_queue_jobs{state="failed"} > 0')).map((s) => s.metric.instance),
      ).toEqual(expect.arrayContaining([aUrl.host, cUrl.host]));
      expect(value('sum(max by (queue) (dualstream_queue_jobs{state="failed"}))')).toBe(1);
      expect(
        value('sum by (entry) (rate(dualstream_events_accepted_total[1m]))', ['entry', 'http']),
      ).toBeGreaterThan(0);
      expect(
        value('sum by (entry) (rate(dualstream_events_accepted_total[1m]))', ['entry', 'ingest']),
      ).toBeGreaterThan(0);
      for (const entry of ['http', 'queue']) {
        expect(
          value('sum by (entry) (rate(dualstream_events_rejected_total[1m]))', ['entry', entry]),
          `rejected, entry ${entry}`,
        ).toBeGreaterThan(0);
      }
      expect(
        value('sum by (stage) (rate(dualstream_publish_failures_total[5m]))', [
          'stage',
          'validate',
        ]),
      ).toBeGreaterThan(0);
      expect(
        value('sum by (outcome) (rate(dualstream_ownership_claims_total[5m]))', [
          'outcome',
          'claimed',
        ]),
      ).toBeGreaterThan(0);
      expect(
        value(
          'histogram_quantile(0.99, sum by (le) (rate(dualstream_failover_seconds_bucket[15m])))',
        ),
      ).toBeGreaterThan(0);

      // The alerts this run causes: B is not scraped any more; a job sits in the failed set.
      await waitFor(
        async () => (await alertState(p, 'DualstreamTargetDown')) === 'firing',
        30_000,
        'DualstreamTargetDown firing for B',
      );
      const down = await p.query('ALERTS{alertname="DualstreamTargetDown",alertstate="firing"}');
      expect(down.map((s) => s.metric.instance)).toEqual([bUrl.host]);
      await waitFor(
        async () => (await alertState(p, 'DualstreamFailedJobsAccumulating')) === 'firing',
        30_000,
        'DualstreamFailedJobsAccumulating firing',
      );
    } finally {
      loading = false;
      await load;
      subscriber.abort();
    }
    expect(await a.stop('SIGTERM')).toBe(0);
  });
});

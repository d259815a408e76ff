// Alert rules against real faults, seen in Prometheus' own ALERTS series. A `dualstream worker`
// child publishes to a PRIVATE Kafka broker (own ports and run dir; the shared 9092 broker is
// never touched) and notifies on a throwaway redis-server given as PUBSUB_REDIS_URL, while the
// test enqueues a little steady load. Prometheus (Debian's 2.42) scrapes the worker every second
// and evaluates the rules every second.
//
// 1. Kafka is killed with SIGKILL: DualstreamKafkaCooldown goes pending, then firing; the broker
//    is started again on the same data dir and the alert resolves.
// 2. The Pub/Sub Redis is killed: DualstreamNotifyFailureRatio goes pending, then firing; it is
//    started again on the same port and the alert resolves.
// Both faults also make the two dashboard expressions that are zero without a fault (cool-downs,
// notification failures) return a value above zero.
//
// The rules are a generated copy of dashboards/alerts.yml (see fastRules): every `for:` is 5 s
// and every range window 30 s instead of minutes, so that pending, firing and resolved happen
// within the test; names, thresholds and expressions are otherwise the shipped ones. The worker
// runs with KAFKA_FAILURE_THRESHOLD=1 and KAFKA_COOLDOWN_MS=1000 so that it enters its first
// cool-down at the first failed produce request and probes every ~10 s (1 s cool-down plus the
// producer's own retries), well inside the 30 s window.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createPublishQueue, enqueueEvents } from '../../src/queue/index.js';
import { PrivateKafka } from '../chaos/private-kafka.js';
import { ThrowawayRedis } from '../chaos/redis-server.js';
import { metricsUrlOf, startCliChild, type CliChild } from '../helpers/cli-child.js';
import { REDIS_URL, freeBrokerPorts, obliterate, uniq, waitFor } from '../helpers/pipeline-kit.js';
import {
  alertState,
  ensurePrometheus,
  fastRules,
  freeLoopbackPort,
  startPrometheus,
  type AlertState,
  type RunningPrometheus,
} from '../helpers/prometheus-kit.js';
import { trackEdgePrefix } from '../helpers/edge-cleanup.js';

const KAFKA_ALERT = 'DualstreamKafkaCooldown';
const NOTIFY_ALERT = 'DualstreamNotifyFailureRatio';

/** A state change of one alert, at seconds since the test began. */
interface Transition {
  at: number;
  alert: string;
  state: AlertState;
}

describe('alert rules on real faults: Kafka down, Pub/Sub Redis down', () => {
  const id = uniq('alerts');
  const token = `token-${uniq('m')}`;
  const brokerLog: string[] = [];
  let kafka: PrivateKafka | undefined;
  let pubsub: ThrowawayRedis | undefined;
  let worker: CliChild | undefined;
  let prom: RunningPrometheus | undefined;
  let queue: ReturnType<typeof createPublishQueue> | undefined;
  const queueName = `${id}-q`;

  beforeAll(async () => {
    ensurePrometheus((line) => console.log(`[provision] ${line}`));
    kafka = new PrivateKafka(await freeBrokerPorts(), (line) =>
      brokerLog.push(`${new Date().toISOString()} ${line}`),
    );
    pubsub = new ThrowawayRedis(await freeLoopbackPort());
    await Promise.all([kafka.start(), pubsub.start()]);
  }, 300_000);

  afterAll(async () => {
    await worker?.stop('SIGTERM');
    await prom?.close();
    await queue?.close();
    await obliterate(queueName);
    await pubsub?.kill();
    await kafka?.destroy();
  }, 120_000);

  it(
    'the Kafka cool-down and the notification failure alerts go pending, firing and resolved',
    { timeout: 600_000 },
    async () => {
      onTestFailed(() => {
        console.log(`worker stderr:\n${worker?.stderr().slice(-3000)}`);
        console.log(`private broker:\n${brokerLog.join('\n')}`);
        console.log(`prometheus:\n${prom?.log()}`);
      });
      const env = {
        KAFKA_BROKERS: kafka!.address,
        REDIS_URL,
        PUBSUB_REDIS_URL: pubsub!.url,
        DUALSTREAM_QUEUE: queueName,
        KAFKA_TOPIC: `${id}-topic`,
        DUALSTREAM_CHANNEL_PREFIX: trackEdgePrefix(`${id}-events`),
        BOARD_TOKEN: token,
        KAFKA_FAILURE_THRESHOLD: '1',
        KAFKA_COOLDOWN_MS: '1000',
        WORKER_CONCURRENCY: '32',
      };
      const admin = new Kafka({
        clientId: 'alerts-test',
        brokers: [kafka!.address],
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        await admin.createTopics({
          topics: [{ topic: env.KAFKA_TOPIC, numPartitions: 1 }],
          waitForLeaders: true,
        });
      } finally {
        await admin.disconnect();
      }

      worker = startCliChild('worker', ['worker', '--metrics-port', '0'], {
        ...env,
        LOG_LEVEL: 'info',
      });
      const metricsUrl = new URL(await metricsUrlOf(worker));
      prom = await startPrometheus({
        targets: [metricsUrl.host],
        token,
        rules: [{ name: 'alerts.yml', text: fastRules({ forDuration: '5s', window: '30s' }) }],
      });
      const p = prom;
      const count = async (expr: string) => (await p.query(expr))[0]?.value ?? NaN;

      // Steady load: a few events every 250 ms, from the package's enqueue helper.
      queue = createPublishQueue(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
      const q = queue;
      let loading = true;
      let sent = 0;
      const load = (async () => {
        while (loading) {
          const events = Array.from({ length: 4 }, (_, i) => ({
            type: 'push',
            sourceType: 'repo',
            sourceId: `${id}/${i}`,
            payload: { n: sent + i },
          }));
          await enqueueEvents(q, events);
          sent += events.length;
          await sleep(250);
        }
      })();

      // Alert states polled in the background; every change is a transition of the timeline.
      const began = Date.now();
      const timeline: Transition[] = [];
      const marks: Array<{ at: number; what: string }> = [];
      const mark = (what: string) => marks.push({ at: (Date.now() - began) / 1000, what });
      const current = new Map<string, AlertState>();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          for (const alert of [KAFKA_ALERT, NOTIFY_ALERT]) {
            const state = await alertState(p, alert);
            if (current.get(alert) !== state) {
              current.set(alert, state);
              timeline.push({ at: (Date.now() - began) / 1000, alert, state });
            }
          }
          await sleep(250);
        }
      })();
      const reached = (alert: string, state: AlertState, what: string, timeoutMs = 90_000) =>
        waitFor(() => current.get(alert) === state, timeoutMs, `${alert} ${state} (${what})`);
      const sequence = (alert: string) =>
        timeline.filter((t) => t.alert === alert).map((t) => t.state);

      try {
        await waitFor(
          async () => (await count('sum(dualstream_notifications_sent_total)')) > 0,
          60_000,
          'Prometheus to see notifications sent',
        );
        await sleep(2000);
        expect(current.get(KAFKA_ALERT)).toBe('inactive');
        expect(current.get(NOTIFY_ALERT)).toBe('inactive');

        // 1. Kafka dies.
        mark('Kafka killed');
        await kafka!.kill();
        await reached(KAFKA_ALERT, 'pending', 'Kafka down');
        await reached(KAFKA_ALERT, 'firing', 'Kafka down');
        mark(`${KAFKA_ALERT} firing`);
        // The dashboard's cool-down expression has data now.
        expect(await count('sum(increase(dualstream_kafka_cooldowns_total[5m]))')).toBeGreaterThan(
          0,
        );
        const restartMs = await kafka!.restart();
        mark(`Kafka back (restart took ${(restartMs / 1000).toFixed(1)} s)`);
        await reached(KAFKA_ALERT, 'inactive', 'Kafka back', 120_000);
        mark(`${KAFKA_ALERT} resolved`);
        // Kafka is really back: everything enqueued so far gets published.
        const enqueued = sent;
        await waitFor(
          async () => (await q.getJobCountByTypes('completed')) >= enqueued,
          90_000,
          'the backlog published after Kafka came back',
        );
        expect(await q.getJobCountByTypes('failed')).toBe(0);

        // 2. The Pub/Sub Redis dies (the queue Redis stays up).
        mark('Pub/Sub Redis killed');
        await pubsub!.kill();
        await reached(NOTIFY_ALERT, 'pending', 'Pub/Sub Redis down');
        await reached(NOTIFY_ALERT, 'firing', 'Pub/Sub Redis down');
        mark(`${NOTIFY_ALERT} firing`);
        expect(await count('sum(rate(dualstream_notify_failures_total[1m]))')).toBeGreaterThan(0);
        // Publishing goes on meanwhile: notifications are best-effort.
        const before = await q.getJobCountByTypes('completed');
        await waitFor(
          async () => (await q.getJobCountByTypes('completed')) > before + 10,
          30_000,
          'jobs completing while the Pub/Sub Redis is down',
        );
        await pubsub!.start();
        mark('Pub/Sub Redis back');
        await reached(NOTIFY_ALERT, 'inactive', 'Pub/Sub Redis back', 120_000);
        mark(`${NOTIFY_ALERT} resolved`);
      } finally {
        watching = false;
        await watch;
        loading = false;
        await load;
        const lines = [
          ...timeline.map((t) => ({ at: t.at, line: `${t.alert} ${t.state}` })),
          ...marks.map((m) => ({ at: m.at, line: `-- ${m.what}` })),
        ].sort((a, b) => a.at - b.at);
        console.log(
          '[alerts] timeline (s since start):\n' +
            lines.map((l) => `  ${l.at.toFixed(1).padStart(6)}  ${l.line}`).join('\n'),
        );
      }
      for (const alert of [KAFKA_ALERT, NOTIFY_ALERT]) {
        expect(sequence(alert), alert).toEqual(['inactive', 'pending', 'firing', 'inactive']);
      }
      expect(await worker.stop('SIGTERM')).toBe(0);
    },
  );
});

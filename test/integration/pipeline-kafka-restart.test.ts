// Kafka really goes away: a PRIVATE broker (own port pair and run dir, never the shared one) is
// killed with kill -9 while a publish worker is writing to it, stays down for longer than one
// job's whole retry budget, and is started again on the same data dir. Jobs come from a plain
// BullMQ producer (one attempt, no options) and from enqueueEvents, before, across and during the
// outage. pipeline-kafka-outage.test.ts covers the same with a client-side network cut; this one
// adds what only a real broker death does: lost in-flight requests, a broker that restarts and
// re-registers, and metadata that changes under the client.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { DualstreamConfig } from '../../src/config/index.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createDualPublisher, type DualPublisher } from '../../src/publisher/index.js';
import {
  createPublishQueue,
  createPublishWorker,
  jobEventId,
  enqueueEvents,
  type PublishWorker,
} from '../../src/queue/index.js';
import {
  infraDown,
  infraUp,
  killKafka,
  startKafka,
  type InfraOptions,
} from '../../scripts/infra.mjs';
import { readWholeTopic } from '../chaos/kafka-reader.js';
import { freeBrokerPorts, obliterate, testConfig, waitFor } from '../helpers/pipeline-kit.js';
import { plainEnqueue } from '../helpers/plain-bullmq-producer.js';

/** How long the broker stays dead before the restart begins (the restart adds its own time). */
const OUTAGE_MS = 11_000;

/** Polls the failed count in the background; `max` is the highest count seen. */
function watchFailed(count: () => Promise<number>): {
  max: () => number;
  stop: () => Promise<void>;
} {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await count());
      await sleep(200);
    }
  })();
  return {
    max: () => max,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('publish pipeline: Kafka killed and restarted', () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dualstream-kafka-restart-'));
  const infraLines: string[] = [];
  let infraOpts: InfraOptions;
  let brokerStarted = false;
  let config: DualstreamConfig;
  let queue: ReturnType<typeof createPublishQueue>;
  let publisher: DualPublisher;
  let worker: PublishWorker;
  const metrics = new DualstreamMetrics();

  beforeAll(async () => {
    const port = await freeBrokerPorts();
    infraOpts = {
      kafkaBrokers: `127.0.0.1:${port}`,
      controllerPort: port + 1,
      runDir,
      redis: false,
      log: (line) => infraLines.push(`${new Date().toISOString()} ${line}`),
    };
    brokerStarted = true;
    await infraUp(infraOpts);

    config = testConfig({
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      JOB_ATTEMPTS: '2',
      BACKOFF_DELAY_MS: '100',
      KAFKA_FAILURE_THRESHOLD: '2',
      KAFKA_COOLDOWN_MS: '1000',
      WORKER_CONCURRENCY: '16',
    });
    const admin = new Kafka({
      clientId: 'restart-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: config.kafka.topic, numPartitions: 2 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }

    queue = createPublishQueue(config);
    publisher = createDualPublisher(config, {
      metrics,
      producerOptions: {
        // One job's Kafka budget: ~1 s of client retries per attempt, 2 attempts plus backoff.
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 400 },
        connectionTimeout: 500,
        requestTimeout: 3000,
      },
    });
    worker = createPublishWorker(config, { publisher, metrics, drainDelay: 1 });
  });

  afterAll(async () => {
    try {
      await worker?.close();
      await publisher?.close();
      await queue?.close();
      if (config) await obliterate(config.queue.name);
    } finally {
      if (brokerStarted) await infraDown({ ...infraOpts, clean: true });
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });

  it(
    'holds jobs while the broker is dead, then writes every event; extra copies only for requests in flight at the kill',
    {
      timeout: 150_000,
    },
    async () => {
      onTestFailed(() => console.log(`private broker:\n${infraLines.join('\n')}`));
      // How many Kafka records each event id must end up as.
      const expected = new Map<string, number>();
      let seq = 0;
      const event = (phase: string, withId = true) => {
        const n = seq++;
        return {
          ...(withId ? { id: `${phase}-${n}` } : {}),
          type: 'push',
          sourceType: 'repo',
          sourceId: `o/${n % 7}`,
          payload: { n, phase },
        };
      };
      // A plain producer: one attempt, no jobId. Adding the same event twice makes two jobs and,
      // by design, two records; an event without an id gets one derived from its job.
      // Both adders resolve with the BullMQ job ids they created.
      const addPlain = async (phase: string, n: number): Promise<string[]> => {
        const events = Array.from({ length: n }, (_, i) => event(phase, i % 4 !== 3));
        const again = events.find((e) => e.id !== undefined);
        const data = again ? [...events, again] : events;
        const jobIds = await plainEnqueue(
          config.queue.name,
          data.map((d) => ({ data: d })),
        );
        for (const [i, d] of data.entries()) {
          let id = d.id;
          if (id === undefined) {
            const job = await queue.getJob(jobIds[i]!);
            id = jobEventId(job!);
          }
          expected.set(id, (expected.get(id) ?? 0) + 1);
        }
        return jobIds;
      };
      // enqueueEvents: jobId = event id, so enqueueing the same events again is a no-op.
      const addViaPackage = async (phase: string, n: number): Promise<string[]> => {
        const events = Array.from({ length: n }, () => event(phase));
        await enqueueEvents(queue, events);
        await enqueueEvents(queue, events.slice(0, 2));
        for (const e of events) expected.set(e.id!, 1);
        return events.map((e) => e.id!);
      };
      const completed = () => queue.getJobCountByTypes('completed');
      const jobCount = () => [...expected.values()].reduce((a, b) => a + b, 0);
      const inFlightAtKill = new Set<string>();

      // Warm up: the producer is connected and the topic's leaders are known.
      await addPlain('warm-plain', 8);
      await addViaPackage('warm-pkg', 8);
      await waitFor(async () => (await completed()) === jobCount(), 20_000, 'warm-up jobs');

      const failed = watchFailed(() => queue.getJobCountByTypes('failed'));
      try {
        // Load that keeps produce requests in flight when the broker dies.
        let loading = true;
        const load = (async () => {
          for (let round = 0; loading; round++) {
            if (round % 2 === 0) await addPlain('across-plain', 4);
            else await addViaPackage('across-pkg', 4);
            await sleep(50);
          }
        })();
        await sleep(1000);
        // A burst, and the kill as soon as its first jobs complete: the worker is then in the
        // middle of writing it, so some produce requests die with the broker.
        const base = await completed();
        await addPlain('burst-plain', 60);
        await addViaPackage('burst-pkg', 60);
        await waitFor(async () => (await completed()) >= base + 10, 10_000, 'the burst to start');
        const unfinishedAtKill = jobCount() - (await completed());
        await killKafka({ ...infraOpts, signal: 'SIGKILL' });
        const killedAt = Date.now();
        // Jobs whose produce request was in flight at the kill are still active now (the send
        // fails only after the client's retries). The broker may have written such a request
        // without acknowledging it; the worker then writes it again with a fresh producer, which
        // is the documented duplicate (README, guarantees) and is bounded by this set.
        for (const job of await queue.getActive()) {
          inFlightAtKill.add(typeof job.data.id === 'string' ? job.data.id : jobEventId(job));
        }
        loading = false;
        await load;

        // Enqueued while the broker is dead: none of them can complete before the restart.
        const during: string[] = [];
        while (Date.now() - killedAt < OUTAGE_MS) {
          during.push(...(await addPlain('during-plain', 3)));
          during.push(...(await addViaPackage('during-pkg', 3)));
          await sleep(1000);
        }
        const cooldownsSeen = (await metrics.kafkaCooldowns.get()).values[0]?.value ?? 0;
        const duringStates = await Promise.all(during.map((id) => queue.getJobState(id)));
        expect(failed.max(), 'jobs in the failed set during the outage').toBe(0);
        expect(cooldownsSeen, 'cool-downs during the outage').toBeGreaterThanOrEqual(1);
        expect(
          during.filter((_, i) => duringStates[i] === 'completed' || duringStates[i] === 'failed'),
          'jobs enqueued during the outage that finished without Kafka',
        ).toEqual([]);

        const restart = await startKafka(infraOpts);
        const downMs = Date.now() - killedAt;
        console.log(
          `[restart test] broker down ${(downMs / 1000).toFixed(1)} s ` +
            `(restart ${(restart.startMs / 1000).toFixed(1)} s), ` +
            `${unfinishedAtKill} jobs unfinished at the kill, ${jobCount()} jobs in all, ` +
            `cool-downs so far ${cooldownsSeen}`,
        );
        expect(restart.reused, 'the broker was really restarted').toBe(false);

        await addPlain('after-plain', 4);
        await addViaPackage('after-pkg', 4);
        try {
          await waitFor(
            async () => (await completed()) === jobCount(),
            60_000,
            'all jobs completed after the restart',
          );
        } catch (err) {
          // What a stall looks like from outside, for the log of a failed run.
          const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'completed');
          console.log(
            `[restart test] stalled: breaker ${worker.breaker.current}, ` +
              `kafka health ${JSON.stringify(publisher.kafkaHealth())}, jobs ${JSON.stringify(counts)} of ${jobCount()}, ` +
              `cool-downs ${(await metrics.kafkaCooldowns.get()).values[0]?.value ?? 0}`,
          );
          throw err;
        }
      } finally {
        await failed.stop();
      }
      expect(failed.max(), 'jobs in the failed set at any time').toBe(0);
      expect(await queue.getJobCountByTypes('failed', 'waiting', 'delayed', 'active')).toBe(0);
      expect(worker.breaker.current).toBe('closed');

      const { records } = await readWholeTopic(config.kafka.brokers, config.kafka.topic, 30_000);
      const written = new Map<string, number>();
      const where = new Map<string, string[]>();
      for (const r of records) {
        const id = r.headers['event-id'] ?? '(no event-id)';
        written.set(id, (written.get(id) ?? 0) + 1);
        where.set(id, [...(where.get(id) ?? []), `p${r.partition}@${r.offset}`]);
      }
      const differing = [...new Set([...expected.keys(), ...written.keys()])]
        .filter((id) => (written.get(id) ?? 0) !== (expected.get(id) ?? 0))
        .map((id) => ({
          id,
          enqueued: expected.get(id) ?? 0,
          inKafka: written.get(id) ?? 0,
          inFlightAtKill: inFlightAtKill.has(id),
          at: where.get(id) ?? [],
        }));
      // Nothing lost, and nothing written more often than enqueued unless its produce request
      // was in flight when the broker died.
      const wrong = differing.filter((d) => d.inKafka < d.enqueued || !d.inFlightAtKill);
      expect(wrong, `${records.length} records for ${jobCount()} jobs`).toEqual([]);
      const extra = records.length - jobCount();
      console.log(
        `[restart test] ${extra} duplicate records (bound: ${inFlightAtKill.size} jobs in flight at the kill)`,
      );
      expect(extra).toBeLessThanOrEqual(inFlightAtKill.size);
    },
  );
});

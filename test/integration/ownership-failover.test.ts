// Failover with real processes, real Redis and real Kafka: an owner is killed (SIGKILL) or stalled
// (SIGSTOP past its TTL, then SIGCONT) while its streams keep receiving entries. Another process
// takes each stream over, the stalled one is fenced, and every entry reaches Kafka exactly once.
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createPublishWorker, type PublishWorker } from '../../src/queue/index.js';
import { createTopic, deleteTopics } from '../helpers/pipeline-kit.js';
import {
  Fleet,
  REDIS_URL,
  cleanupService,
  expectExactlyOnceInKafka,
  firstClaimMs,
  ownershipConfig,
  ownershipEnv,
  sleep,
  startProducer,
  uniqService,
} from '../helpers/ownership-kit.js';

const TTL = 1000;
const STREAMS = 9;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse())
    await c().catch((err: unknown) => console.error(err));
}, 60_000);

async function setup() {
  const service = uniqService();
  const env = { LOCK_TTL_MS: String(TTL), SWEEP_INTERVAL_MS: '1000', FENCE_PROBE: '1' };
  const config = ownershipConfig(service, env);
  const redis = new Redis(REDIS_URL);
  const fleet = new Fleet(ownershipEnv(service, env));
  const names = Array.from({ length: STREAMS }, (_, i) => `${service}-d${i}`);
  await createTopic(config.kafka.topic);
  const publish: { worker?: PublishWorker } = {};
  const queue = new Queue(config.queue.name, {
    connection: { url: REDIS_URL },
    prefix: config.redis.prefix,
  });
  cleanups.push(async () => {
    await fleet.closeAll();
    await publish.worker?.close();
    await queue.close();
    await cleanupService(service, config);
    await deleteTopics(config.kafka.topic);
    redis.disconnect();
  });
  await fleet.spawn(3);
  await Promise.all(
    names.map((name) =>
      redis.xadd(
        `${service}-input`,
        '*',
        'lbs-input',
        JSON.stringify({ DataStreamName: name, Info: {} }),
      ),
    ),
  );
  await fleet.waitFor(() => fleet.of('StreamAdded').length >= STREAMS, 30_000, 'streams added');
  publish.worker = createPublishWorker(config, { concurrency: 32, drainDelay: 1 });
  publish.worker.on('error', () => undefined);
  return { service, config, redis, fleet, names, queue };
}

describe('failover of stream owners', () => {
  it('kill -9: another process owns each stream within TTL + 1 s and Kafka gets every entry once', async () => {
    const { redis, fleet, names, queue, config } = await setup();
    const producer = startProducer(redis, names);
    await sleep(1000);
    const victim = fleet.busiest();
    const theirs = fleet.ownedBy(victim);
    const before = fleet.messages.length;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const claims = await fleet.takeover(theirs, before, 15_000);
    await sleep(1000);
    await producer.stop();

    const byStream = firstClaimMs(claims(), killedAt);
    const worst = Math.max(...byStream.values());
    console.log(
      `kill -9 of ${victim.name} (${theirs.size} streams): taken over after ${[...byStream.values()].join(', ')} ms; reasons ${[...new Set(claims().map((m) => m.reason))].join(',')}`,
    );
    expect(claims().every((m) => m.child !== victim.name)).toBe(true);
    expect(worst).toBeLessThanOrEqual(TTL + 1000);
    await expectExactlyOnceInKafka(queue, config.kafka.topic, producer.expected);
  });

  it('SIGSTOP past the TTL: others take over, the woken owner is disowned and fenced, nothing lost or doubled', async () => {
    const { redis, fleet, names, queue, config } = await setup();
    const producer = startProducer(redis, names);
    await sleep(1000);
    const victim = fleet.busiest();
    const theirs = fleet.ownedBy(victim);
    const before = fleet.messages.length;
    victim.proc.kill('SIGSTOP');
    const claims = await fleet.takeover(theirs, before, 15_000);
    await sleep(300);
    victim.proc.kill('SIGCONT');
    const disowned = () =>
      fleet.of('StreamDisowned', victim).filter((m) => m.stream && theirs.has(m.stream));
    const probes = () => fleet.of('fence-probe', victim);
    await fleet.waitFor(
      () =>
        new Set(disowned().map((m) => m.stream)).size >= theirs.size &&
        probes().length >= 2 * theirs.size,
      15_000,
      'disowned and fenced',
    );
    await sleep(1000);
    await producer.stop();

    console.log(
      `SIGSTOP of ${victim.name} (${theirs.size} streams): disowned because ${[...new Set(disowned().map((m) => m.reason))].join('; ')}`,
    );
    expect(claims().every((m) => m.child !== victim.name)).toBe(true);
    expect(new Set(disowned().map((m) => m.stream))).toEqual(theirs);
    // The stale owner's XACK (Lua, atomic) and its pre-enqueue check are refused by Redis.
    expect(
      probes()
        .filter((p) => p.op === 'ack')
        .every((p) => p.error === 'FencingError'),
    ).toBe(true);
    expect(
      probes()
        .filter((p) => p.op === 'enqueue')
        .every((p) => p.error === 'FencingError'),
    ).toBe(true);
    expect(new Set(probes().map((p) => p.op))).toEqual(new Set(['ack', 'enqueue']));
    // It keeps running and owns none of its old streams.
    fleet.send(victim, { cmd: 'owned' });
    await fleet.waitFor(() => fleet.of('owned', victim).length > 0, 10_000, 'owned reply');
    const ownedNow = fleet.of('owned', victim).at(-1)?.streams ?? [];
    expect(ownedNow.filter((s) => theirs.has(s))).toEqual([]);
    await expectExactlyOnceInKafka(queue, config.kafka.topic, producer.expected);
  });
});

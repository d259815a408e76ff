// The `dualstream` command as a real child process against the real Redis and Kafka: help, bad
// input, enqueue, retry-failed (1 000 jobs that failed for real), replay and doctor.
import { removeOrderState } from '../../src/order/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import {
  createPublishQueue,
  createPublishWorker,
  enqueueEvents,
  type PublishWorker,
} from '../../src/queue/index.js';
import { createDualPublisher } from '../../src/publisher/index.js';
import type { DualstreamConfig } from '../../src/config/index.js';
import {
  BROKERS,
  REDIS_URL,
  collectPubSub,
  createTopic,
  deleteTopics,
  readTopic,
  testConfig,
  waitFor,
} from '../helpers/pipeline-kit.js';
import { createLimitedTopic, runCli, setTopicMaxMessageBytes } from '../helpers/server-kit.js';

const STACK = /\n\s+at .+[:(]\d+/;

/** The environment a CLI run gets for `config`. */
function envOf(
  config: DualstreamConfig,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: BROKERS,
    REDIS_URL,
    DUALSTREAM_QUEUE: config.queue.name,
    KAFKA_TOPIC: config.kafka.topic,
    DUALSTREAM_CHANNEL_PREFIX: config.events.channelPrefix,
    ...extra,
  };
}

describe('dualstream CLI: usage and bad input', () => {
  const commands = [
    'start',
    'worker',
    'ingest',
    'board',
    'enqueue',
    'retry-failed',
    'replay',
    'doctor',
    'topic',
    'infra',
  ];

  it('--help works for every command', async () => {
    const results = await Promise.all(commands.map((c) => runCli([c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, commands[i]).toBe(0);
      expect(r.stdout).toContain(`Usage: dualstream ${commands[i]}`);
    });
    const top = await runCli(['--help']);
    for (const c of commands) expect(top.stdout).toContain(c);
    // A command lists only the flags it uses: retry-failed and enqueue talk to the queue Redis
    // only, replay to Kafka and the Pub/Sub Redis only.
    const help = (c: string) => results[commands.indexOf(c)]!.stdout;
    for (const c of ['retry-failed', 'enqueue']) {
      expect(help(c), c).not.toMatch(/--kafka-brokers|--topic|--pubsub-redis-url/);
      expect(help(c), c).toMatch(/--redis-url[\s\S]*--queue[\s\S]*--prefix/);
    }
    expect(help('replay')).not.toMatch(/--queue|--prefix|--redis-url/);
    expect(help('replay')).toMatch(/--kafka-brokers[\s\S]*--topic[\s\S]*--pubsub-redis-url/);
  });

  it('unknown flags and commands are commander errors with a non-zero exit, no stack trace', async () => {
    const flag = await runCli(['enqueue', '--no-such-flag']);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toContain("unknown option '--no-such-flag'");
    const cmd = await runCli(['retry-faild']);
    expect(cmd.code).not.toBe(0);
    expect(cmd.stderr).toMatch(/unknown command 'retry-faild'[\s\S]*retry-failed/);
    for (const r of [flag, cmd]) expect(r.stderr).not.toMatch(STACK);
    // Usage errors exit 2, like a bad configuration.
    expect([flag.code, cmd.code]).toEqual([2, 2]);
  });

  it('bad flag values name the flag and the problem', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['retry-failed', '--older-than', 'soon'], /--older-than.*invalid duration "soon"/],
      [['retry-failed', '--reason', '(['], /--reason.*invalid regular expression/],
      [['replay', '--from-offset', 'x'], /--from-offset.*"x" is not an offset/],
      [['replay', '--from-time', 'yesterday'], /--from-time.*not an ISO 8601 time/],
      [['enqueue', '--batch-size', '0'], /--batch-size.*positive whole number/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).not.toMatch(STACK);
    });
  });

  it('a bad configuration exits 2 naming the variable; a flag overrides the variable', async () => {
    const env = await runCli(['doctor'], { env: { KAFKA_BROKERS: 'not a broker' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/KAFKA_BROKERS: each broker must be host:port/);
    expect(env.stderr).not.toMatch(STACK);
    const flag = await runCli(['doctor', '--redis-url', 'http://nope'], { env: { REDIS_URL } });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('replay needs exactly one start; board refuses a public host without credentials', async () => {
    const replay = await runCli(['replay']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain('give exactly one of --from-offset or --from-time');
    const board = await runCli(['board', '--host', '0.0.0.0', '--insecure']);
    expect(board.code).toBe(2);
    expect(board.stderr).toMatch(/only allowed on a loopback host/);
  });

  it('enqueue of a missing file exits 2 with the reason', async () => {
    const r = await runCli(['enqueue', '/no/such/file.ndjson']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('dualstream: cannot read /no/such/file.ndjson: ENOENT\n');
  });
});

describe('dualstream enqueue', () => {
  let config: DualstreamConfig;
  let redis: Redis;
  let queue: Queue;

  beforeAll(() => {
    config = testConfig();
    redis = new Redis(REDIS_URL);
    queue = createPublishQueue(config, { connection: redis });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await removeOrderState(redis, 'bull', config.queue.name);
    await redis.quit();
  });

  it('enqueues good lines, reports bad ones by line number, exits 1', async () => {
    const lines = [
      JSON.stringify({ id: 'nd-1', type: 'push', sourceType: 'repo', sourceId: 'a/b' }),
      '{"id": "nd-2", "type": ',
      JSON.stringify({ id: 'nd-3', type: 'push', sourceType: 'repo', sourceId: 'a/b' }),
      '',
      JSON.stringify({ id: 'nd-5', type: 'push', sourceType: 'repo', sourceId: 'has space' }),
      JSON.stringify({ id: 'nd-6', type: 7, sourceType: 'repo', sourceId: 'x' }),
      JSON.stringify({ id: 'nd-7', type: 'push', sourceType: 'repo', sourceId: 'c' }),
    ];
    const r = await runCli(['enqueue'], { env: envOf(config), input: lines.join('\n') + '\n' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('enqueued 3 events, rejected 3 lines');
    expect(r.stdout).toMatch(/line 2: malformed JSON/);
    expect(r.stdout).toMatch(/line 5: sourceId: sourceId must not contain whitespace/);
    expect(r.stdout).toMatch(/line 6: type: type must be a string/);
    expect(r.stderr).toBe('');
    expect((await queue.getWaiting()).map((j) => j.id).sort()).toEqual(['nd-1', 'nd-3', 'nd-7']);

    // A duplicate is not counted as enqueued.
    const again = await runCli(['enqueue', '-'], {
      env: envOf(config),
      input:
        [
          lines[0],
          lines[2],
          JSON.stringify({ id: 'nd-8', type: 'push', sourceType: 'repo', sourceId: 'd' }),
        ].join('\n') + '\n',
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      'enqueued 1 event, skipped 2 duplicates (id already enqueued), rejected 0 lines',
    );
    expect(await queue.getWaitingCount()).toBe(4);
  });
});

describe('dualstream retry-failed', () => {
  let config: DualstreamConfig;
  let redis: Redis;
  let queue: Queue;
  let worker: PublishWorker;
  const N = 1000;

  beforeAll(async () => {
    // Every record is bigger than the topic allows: Kafka rejects each publish for real
    // (MESSAGE_TOO_LARGE), and with one attempt every job ends in the failed set.
    config = testConfig({
      JOB_ATTEMPTS: '1',
      KAFKA_FAILURE_THRESHOLD: '1000',
      WORKER_CONCURRENCY: '200',
    });
    await createLimitedTopic(config.kafka.topic, 1024);
    redis = new Redis(REDIS_URL);
    queue = createPublishQueue(config, { connection: redis });
    worker = createPublishWorker(config, { drainDelay: 1 });
  });
  afterAll(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    if (redis) await removeOrderState(redis, 'bull', config.queue.name);
    await redis?.quit();
    if (config) await deleteTopics(config.kafka.topic);
  });

  const bigEvents = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: `${prefix}-${i}`,
      type: 'bulk.test',
      sourceType: 'bulk',
      sourceId: `s${i % 10}`,
      payload: { pad: 'x'.repeat(1500) },
    }));

  it(`--dry-run lists ${N} really failed jobs without changing them; then all are retried and published once`, async () => {
    await enqueueEvents(queue, bigEvents('r', N));
    await waitFor(async () => (await queue.getFailedCount()) === N, 60_000, `${N} failed jobs`);

    const dry = await runCli(['retry-failed', '--dry-run', '--reason', 'max message size'], {
      env: envOf(config),
    });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `queue "${config.queue.name}": ${N} failed job(s), ${N} matching the filters`,
    );
    expect(dry.stdout).toContain(`${N} job(s) would be retried (dry run, nothing changed)`);
    expect(dry.stdout.split('\n').filter((l) => l.startsWith('  r-'))).toHaveLength(N);
    const none = await runCli(['retry-failed', '--dry-run', '--reason', '^nothing-like-this'], {
      env: envOf(config),
    });
    expect(none.stdout).toContain(`${N} failed job(s), 0 matching the filters`);
    expect(none.stdout).toContain('0 job(s) would be retried');
    expect(await queue.getFailedCount()).toBe(N);

    await setTopicMaxMessageBytes(config.kafka.topic, 1_048_576);
    const run = await runCli(['retry-failed', '--wait', '2m'], {
      env: envOf(config),
      timeoutMs: 150_000,
    });
    expect(run.stdout).toContain(`retried ${N} failed job(s)`);
    // The command followed the retried jobs until each was published.
    expect(run.stdout).toMatch(new RegExp(`: ${N} published, 0 failed again, 0 still pending`));
    expect(run.code).toBe(0);
    expect(await queue.getCompletedCount()).toBe(N);
    expect(await queue.getFailedCount()).toBe(0);

    const records = await readTopic(config.kafka.topic);
    const ids = records.map((r) => r.headers['event-id']);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
  }, 240_000);

  it('with filters, pages through the failed set and retries only the matching jobs', async () => {
    await setTopicMaxMessageBytes(config.kafka.topic, 1024);
    await enqueueEvents(queue, bigEvents('f', 30));
    await waitFor(async () => (await queue.getFailedCount()) === 30, 30_000, '30 failed jobs');
    // A job failing for another reason (invalid event added by a plain producer) stays failed.
    await queue.add(
      'bad',
      { type: 'bad', sourceType: 'x', sourceId: 'no spaces allowed' },
      { jobId: 'bad-1' },
    );
    await waitFor(
      async () => (await queue.getFailedCount()) === 31,
      30_000,
      'the invalid job to fail',
    );

    await setTopicMaxMessageBytes(config.kafka.topic, 1_048_576);
    const r = await runCli(
      [
        'retry-failed',
        '--reason',
        'max message size',
        '--newer-than',
        '1h',
        '--page-size',
        '7',
        '--wait',
        '1m',
      ],
      { env: envOf(config) },
    );
    expect(r.stdout).toContain('31 failed job(s), 30 matching the filters');
    expect(r.stdout).toContain('retried 30 failed job(s)');
    expect(r.stdout).toMatch(/: 30 published, 0 failed again, 0 still pending/);
    expect(r.code).toBe(0);
    expect((await queue.getFailed()).map((j) => j.id)).toEqual(['bad-1']);
    const old = await runCli(['retry-failed', '--older-than', '1h', '--dry-run'], {
      env: envOf(config),
    });
    expect(old.stdout).toContain('1 failed job(s), 0 matching the filters');
  });

  it('skips invalid events unless --include-invalid, and says which retried jobs failed again and why', async () => {
    // Left from the test before: bad-1, an invalid event (validation failed, UnrecoverableError).
    expect((await queue.getFailed()).map((j) => j.id)).toEqual(['bad-1']);
    const dry = await runCli(['retry-failed', '--dry-run'], { env: envOf(config) });
    expect(dry.stdout).toContain('0 job(s) would be retried');
    expect(dry.stdout).toMatch(/would skip 1 invalid event\(s\)[^\n]*--include-invalid/);

    const plain = await runCli(['retry-failed'], { env: envOf(config) });
    expect(plain.stdout).toContain('retried 0 failed job(s)');
    expect(plain.stdout).toMatch(/skipped 1 invalid event\(s\)/);
    expect(plain.stdout).toMatch(/ 1× .*sourceId must not contain whitespace/);
    expect(plain.code).toBe(0);
    expect(await queue.getJobState('bad-1')).toBe('failed');

    const forced = await runCli(['retry-failed', '--include-invalid', '--wait', '1m'], {
      env: envOf(config),
    });
    expect(forced.stdout).toContain('retried 1 failed job(s)');
    expect(forced.stdout).toMatch(/: 0 published, 1 failed again, 0 still pending/);
    expect(forced.stdout).toMatch(/failed again 1× .*sourceId must not contain whitespace/);
    expect(forced.code).toBe(1);
    expect(await queue.getJobState('bad-1')).toBe('failed');
  });
});

describe('dualstream replay', () => {
  let config: DualstreamConfig;

  beforeAll(async () => {
    config = testConfig();
    await createTopic(config.kafka.topic, 1);
    const publisher = createDualPublisher(config);
    try {
      // Written with the source-seq a worker would give them (two sources, alternating).
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          publisher.publishToKafka(
            {
              id: `rp-${i}`,
              type: 'replay.test',
              sourceType: 'rp',
              sourceId: `s${i % 2}`,
              occurredAt: new Date().toISOString(),
              payload: null,
            },
            Math.floor(i / 2) + 1,
          ),
        ),
      );
    } finally {
      await publisher.close();
    }
  });
  afterAll(async () => {
    if (config) await deleteTopics(config.kafka.topic);
  });

  it('re-sends the notifications of an offset range; subscribers receive them', async () => {
    const sub = await collectPubSub(`${config.events.channelPrefix}:rp:*`);
    try {
      const r = await runCli(['replay', '--from-offset', '3', '--to-offset', '7'], {
        env: envOf(config),
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        `replayed 5 notification(s) from topic "${config.kafka.topic}" (partition 0: 3..7)`,
      );
      await waitFor(() => sub.messages.length >= 5, 10_000, '5 notifications');
      const got = sub.messages.map(
        (m) =>
          JSON.parse(m.message) as { id: string; offset: string; source_id: string; seq: number },
      );
      expect(got.map((g) => g.offset)).toEqual(['3', '4', '5', '6', '7']);
      // The record's source-seq header comes back as the notification's seq.
      expect(got.map((g) => g.seq)).toEqual([2, 3, 3, 4, 4]);
      expect(got.map((g) => g.id)).toEqual(['rp-3', 'rp-4', 'rp-5', 'rp-6', 'rp-7']);
      expect(sub.messages[0]!.channel).toBe(`${config.events.channelPrefix}:rp:s1`);
    } finally {
      await sub.close();
    }
  });

  it('from a time after the last record there is nothing to replay; a missing topic is an error', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const r = await runCli(['replay', '--from-time', future], { env: envOf(config) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('nothing to replay');
    const missing = await runCli(
      ['replay', '--from-offset', '0', '--topic', 'no-such-topic-dualstream'],
      {
        env: envOf(config),
      },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Kafka topic "no-such-topic-dualstream" does not exist');
  });

  it('names a partition the topic does not have instead of replaying nothing', async () => {
    const r = await runCli(['replay', '--from-offset', '5:0,0:0'], { env: envOf(config) });
    expect(r.stderr).toBe(
      `dualstream: --from-offset names partition 5, but topic "${config.kafka.topic}" has 1 partition(s): 0\n`,
    );
    expect(r.code).toBe(2);
    const to = await runCli(['replay', '--from-offset', '0', '--to-offset', '3:1'], {
      env: envOf(config),
    });
    expect(to.stderr).toContain('--to-offset names partition 3');
    expect(to.code).toBe(2);
  });
});

describe('dualstream doctor', () => {
  it('fails with a fix for each unreachable service', async () => {
    const r = await runCli(['doctor'], {
      env: { KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL redis .*ECONNREFUSED/m);
    expect(r.stdout).toMatch(/^FAIL kafka .*ECONNREFUSED/m);
    expect(r.stdout).toMatch(/fix: start Kafka/);
    expect(r.stdout).toContain('2 failed');
  });

  it('checks the real services; a missing topic is not a failure when something will create it', async () => {
    const missing = `no-such-topic-${Date.now()}`;
    const r = await runCli(['doctor', '--topic', missing], {
      env: { KAFKA_BROKERS: BROKERS, REDIS_URL },
    });
    expect(r.stdout).toMatch(/^OK {3}redis {13}/m);
    expect(r.stdout).toMatch(/^(OK {3}|WARN )redis version/m);
    expect(r.stdout).toMatch(/^OK {3}kafka /m);
    // The worker creates it at start-up (KAFKA_CREATE_TOPIC defaults to on).
    expect(r.stdout).toMatch(
      new RegExp(
        `^OK {3}topic .*"${missing}" does not exist yet: the worker creates it at start-up`,
        'm',
      ),
    );
    expect(r.stdout).not.toContain('kafka-topics.sh');
    expect(r.code).toBe(0);

    // Creation off: the verdict depends on the broker's auto.create.topics.enable, and the fix
    // is this package's own command.
    const off = await runCli(['doctor', '--topic', missing], {
      env: { KAFKA_BROKERS: BROKERS, REDIS_URL, KAFKA_CREATE_TOPIC: '0' },
    });
    expect(off.stdout).toMatch(
      new RegExp(
        `^(WARN topic .*the broker creates it on the first write|FAIL topic .*"${missing}" does not exist, KAFKA_CREATE_TOPIC=0)`,
        'm',
      ),
    );
    expect(off.stdout).toContain(`fix: dualstream topic create --topic ${missing}`);
    // Nothing was created by looking.
    const again = await runCli(['doctor', '--topic', missing], {
      env: { KAFKA_BROKERS: BROKERS, REDIS_URL },
    });
    expect(again.stdout).toContain('does not exist yet');
  });
});

describe('dualstream topic create', () => {
  const topic = `topic-create-${Date.now()}`;
  afterAll(() => deleteTopics(topic));

  it('creates the topic with the partitions asked for, then leaves it unchanged', async () => {
    const env = { KAFKA_BROKERS: BROKERS, KAFKA_TOPIC: topic };
    const first = await runCli(['topic', 'create', '--partitions', '3'], { env });
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(
      new RegExp(`^created topic "${topic}": 3 partition\\(s\\), replication 1$`, 'm'),
    );
    expect(first.code).toBe(0);
    const second = await runCli(['topic', 'create', '--partitions', '5'], { env });
    expect(second.stdout).toContain(
      `topic "${topic}" already exists with 3 partition(s); left unchanged`,
    );
    expect(second.code).toBe(0);
    const doctor = await runCli(['doctor'], { env: { ...env, REDIS_URL } });
    expect(doctor.stdout).toMatch(new RegExp(`^OK {3}topic +"${topic}": 3 partition\\(s\\)`, 'm'));
  });
});

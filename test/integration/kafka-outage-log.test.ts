// What an operator reads when Kafka goes away and comes back, against the real (shared) broker
// with the network cut client-side: one "Kafka unreachable" warning at the first refused
// connection (not a dozen kafkajs errors per send), one "reachable again" line, and a too-large
// record's reason that names the topic, the record's size and the topic's limit.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createKafkajsProducer, type EventProducer } from '../../src/publisher/index.js';
import type { EventRecord } from '../../src/events/index.js';
import { createLimitedTopic } from '../helpers/server-kit.js';
import {
  BROKERS,
  createTopic,
  cuttableNetwork,
  deleteTopics,
  uniq,
} from '../helpers/pipeline-kit.js';

interface Line {
  level: number;
  msg: string;
  kafkajs?: string;
}

describe('Kafka outage and rejection messages', () => {
  const topic = uniq('outage-log');
  const small = uniq('too-large');
  const lines: Line[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Line);
        done();
      },
    }),
  );
  let producer: EventProducer;
  let net: Awaited<ReturnType<typeof cuttableNetwork>>;

  beforeAll(async () => {
    await createTopic(topic, 1);
    await createLimitedTopic(small, 1024);
    net = await cuttableNetwork();
    producer = createKafkajsProducer(
      { brokers: BROKERS.split(','), clientId: 'outage-log-test', ssl: false },
      {
        logger,
        socketFactory: net.socketFactory,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 },
        connectionTimeout: 500,
        requestTimeout: 3000,
      },
    );
  });
  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await deleteTopics(topic, small);
  });

  const record = (t: string, value = '{}'): EventRecord => ({
    topic: t,
    key: 'repo:acme/outage',
    value,
    headers: { 'event-id': uniq('e') },
  });

  it('says "Kafka unreachable" once per outage, demotes kafkajs connection errors, and says when it is back', async () => {
    await producer.send([record(topic)]);
    net.cut();
    await expect(producer.send([record(topic)])).rejects.toThrow(/Kafka produce failed/);
    await expect(producer.send([record(topic)])).rejects.toThrow(/Kafka produce failed/);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(new RegExp(`^Kafka unreachable at ${BROKERS}: `));
    // kafkajs logged its connection errors, all at debug; none reached warn or error.
    expect(lines.filter((l) => l.kafkajs && l.level === 20).length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);

    net.restore();
    await producer.send([record(topic)]);
    expect(lines.filter((l) => /^Kafka reachable again after/.test(l.msg))).toHaveLength(1);

    // A second outage is announced again.
    net.cut();
    await expect(producer.send([record(topic)])).rejects.toThrow();
    expect(lines.filter((l) => /^Kafka unreachable/.test(l.msg))).toHaveLength(2);
    net.restore();
    await producer.send([record(topic)]);
  });

  it('names the topic, the record size and the limit when the broker refuses a record as too large', async () => {
    const big = record(small, JSON.stringify({ pad: 'x'.repeat(3000) }));
    const err = await producer.send([big]).then(
      () => undefined,
      (e: unknown) => e as Error & { retriable: boolean },
    );
    expect(err?.retriable).toBe(false);
    const bytes =
      Buffer.byteLength(big.key) +
      Buffer.byteLength(big.value) +
      'event-id'.length +
      big.headers['event-id']!.length;
    expect(err?.message).toBe(
      `Kafka refused the record as too large: topic "${small}": record of ${bytes} bytes, the topic's max message size (max.message.bytes) is 1024 bytes. Raise max.message.bytes or send smaller events`,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { KafkaOutageLog, isConnectionTrouble } from '../../src/publisher/kafka-outage-log.js';
import { describeTooLarge, isMessageTooLarge } from '../../src/publisher/too-large.js';

function capture() {
  const msgs: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        msgs.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    }),
  );
  return { msgs, logger };
}

describe('KafkaOutageLog', () => {
  it('warns once per outage and reports its length when Kafka is back', () => {
    const { msgs, logger } = capture();
    let now = 0;
    const log = new KafkaOutageLog(logger, ['k1:9092', 'k2:9092'], () => now);
    log.reachable();
    log.unreachable('Connection error: connect ECONNREFUSED');
    now = 2500;
    log.unreachable('Connection timeout');
    expect(log.down).toBe(true);
    log.reachable();
    log.reachable();
    log.unreachable('again');
    expect(msgs.map((m) => [m.level, m.msg.split(':')[0]])).toEqual([
      [40, 'Kafka unreachable at k1'],
      [30, 'Kafka reachable again after 2.5 s'],
      [40, 'Kafka unreachable at k1'],
    ]);
  });

  it('recognises connection trouble, not other errors', () => {
    expect(isConnectionTrouble('Connection error: connect ECONNREFUSED 127.0.0.1:9')).toBe(true);
    expect(isConnectionTrouble('Failed to connect to seed broker')).toBe(true);
    expect(isConnectionTrouble('This server does not host this topic-partition')).toBe(false);
  });
});

describe('too-large reason', () => {
  const rec = (topic: string, value: string) => ({ topic, key: 'k', value, headers: { h: 'v' } });

  it('finds MESSAGE_TOO_LARGE anywhere in the cause chain', () => {
    const inner = Object.assign(new Error('larger than the max message size'), {
      type: 'MESSAGE_TOO_LARGE',
    });
    expect(isMessageTooLarge(new Error('retries exhausted', { cause: inner }))).toBe(true);
    expect(isMessageTooLarge(new Error('other'))).toBe(false);
  });

  it('names topic, sizes and limit; says when the limit could not be read', async () => {
    const one = await describeTooLarge([rec('t', 'x'.repeat(10))], async () => 5);
    expect(one).toBe(
      `Kafka refused the record as too large: topic "t": record of 13 bytes, the topic's max message size (max.message.bytes) is 5 bytes. Raise max.message.bytes or send smaller events`,
    );
    const many = await describeTooLarge(
      [rec('t', 'x'), rec('t', 'xxx')],
      async () => 'unknown (not authorized)',
    );
    expect(many).toContain(
      `topic "t": 2 records of 10 bytes together (largest 6), the topic's max message size (max.message.bytes) is unknown (not authorized)`,
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { ReadRecord } from '../chaos/kafka-reader.js';
import type { OfferedEvent } from '../chaos/load-driver.js';
import { verify, type VerifyInput } from '../chaos/verify.js';

// The chaos verifier's account of a Redis master kill (pure logic; the chaos runs feed it real
// Kafka records). The kill is at t = 100 000, the replica promoted at 103 000.
const KILL = { name: 'Redis master killed', from: 100_000, to: 103_000 };

function record(id: string, source: string, seq: number, offset: number, at: number): ReadRecord {
  return {
    partition: 0,
    offset: String(offset),
    timestamp: at,
    key: `chaos:${source}`,
    value: JSON.stringify({
      id,
      type: 'push',
      sourceType: 'chaos',
      sourceId: source,
      occurredAt: new Date(at).toISOString(),
      payload: {},
    }),
    headers: { 'event-id': id, 'source-seq': String(seq) },
  };
}

function offered(at: number, orderIndex: number): OfferedEvent {
  return { entry: 'bullmq', offeredAt: at, status: 'accepted', orderIndex };
}

function input(records: ReadRecord[], events: Array<[string, OfferedEvent]>): VerifyInput {
  return {
    records,
    offered: new Map(events),
    derivedIds: new Map(),
    hostile: [],
    activeAtWorkerKill: new Set(),
    inFlightAtKafkaKill: new Set(),
    windows: [KILL],
    loadStart: 90_000,
    loadEnd: 200_000,
    notified: new Map(),
    pubsubDown: [],
    maxPayloadBytes: 65_536,
    redisMasterKills: [KILL],
    activeAtRedisKill: new Set(),
  };
}

describe('chaos verify: a Redis master kill', () => {
  it('accounts for an event confirmed just before the kill apart, and counts one confirmed long before as lost', () => {
    const r = verify(
      input(
        [record('a', 'r1', 1, 0, 95_000)],
        [
          ['a', offered(95_000, 0)],
          ['b', offered(99_500, 1)], // confirmed 0.5 s before the kill: async replication
          ['c', offered(50_000, 2)], // confirmed 50 s before: no excuse
        ],
      ),
    );
    expect(r.lost).toBe(2);
    expect(r.redisFailover.lost).toBe(1);
    expect(r.redisFailover.lines).toEqual([
      'lost b (bullmq): offered -0.50 s from the kill, confirmed, missing on the promoted replica',
    ]);
  });

  it('attributes a seq gap written after the promotion to the kill, but not one written a minute later', () => {
    const r = verify(
      input(
        [
          record('a', 'r1', 1, 0, 99_000),
          record('b', 'r1', 1, 1, 104_000), // seq 1 again: the replica lacked the increment
          record('c', 'r1', 3, 2, 170_000), // seq 2 skipped a minute later
        ],
        [
          ['a', offered(98_900, 0)],
          ['b', offered(103_900, 1)],
          ['c', offered(169_900, 2)],
        ],
      ),
    );
    expect(r.order.seqGaps).toBe(2);
    expect(r.redisFailover.seqGaps).toBe(1);
    expect(r.redisFailover.lines).toEqual(['seq gap at chaos:r1 b: written +4.00 s from the kill']);
  });

  it('explains a duplicate first written around the kill, and leaves one from elsewhere unexplained', () => {
    const r = verify(
      input(
        [
          record('a', 'r1', 1, 0, 99_800),
          record('b', 'r1', 2, 1, 99_900),
          record('a', 'r1', 1, 2, 140_000),
          record('c', 'r2', 1, 3, 60_000),
          record('c', 'r2', 1, 4, 61_000),
        ],
        [
          ['a', offered(99_700, 0)],
          ['b', offered(99_800, 1)],
          ['c', offered(59_000, 0)],
        ],
      ),
    );
    expect(r.duplicates.ids).toBe(2);
    expect(r.redisFailover.duplicates).toBe(1);
    expect(r.duplicates.unexplained).toBe(1);
    expect(r.duplicates.samples.find((d) => d.id === 'a')?.explained).toBe(true);
    expect(r.duplicates.samples.find((d) => d.id === 'c')?.explained).toBe(false);
  });
});
